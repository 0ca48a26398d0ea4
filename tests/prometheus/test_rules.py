"""Recording rules and alerts: the files in prometheus/rules/ are valid for promtool, unit-tested
with `promtool test rules`, and exactly what the ConfigMap carries."""
from __future__ import annotations

import http
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from platform_ops.contract import RATE_WINDOW, STACKS
from platform_ops.paths import PROMETHEUS_RULES_DIR, REPO_ROOT
from tests.prometheus.harness import RULE_TESTS_DIR, run

RULE_GROUP_FILES = sorted(str(p.relative_to(REPO_ROOT)) for p in PROMETHEUS_RULES_DIR.glob("*.yaml"))
TEST_FILES = sorted(str(p.relative_to(REPO_ROOT)) for p in RULE_TESTS_DIR.glob("*.test.yml"))
CONFIG_MAP_RULE_FILES = ["platform-apps.rules.yml", "prometheus.rules.yml"]


# The tests of the unit-test runs read the same runs: one worker makes them once (pytest-xdist group).
ONE_RUN = pytest.mark.xdist_group("promtool-rule-tests")


def rule_group(name: str) -> dict:
    return yaml.safe_load((PROMETHEUS_RULES_DIR / f"{name}.yaml").read_text())["groups"][0]


def _rules() -> list[dict]:
    return [rule for path in PROMETHEUS_RULES_DIR.glob("*.yaml") for rule in rule_group(path.stem)["rules"]]


def status_regex() -> str:
    """The regex of the status codes that count as server errors, as the 5xx recording rule has it."""
    [rule] = [r for r in _rules() if r.get("record") == "job:http_requests_5xx:rate5m"]
    [regex] = re.findall(r'status=~"([^"]*)"', rule["expr"])
    return regex


def faulty_copy(directory: Path, edits: list[tuple[str, str, str]]) -> Path:
    """A copy of the rule files and their unit tests, laid out as in the repository (the unit tests
    name the rule files by relative path), with each (group, old, new) edit made once."""
    for source in [*RULE_GROUP_FILES, *TEST_FILES]:
        (directory / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / source, directory / source)
    for group, old, new in edits:
        path = directory / PROMETHEUS_RULES_DIR.relative_to(REPO_ROOT) / f"{group}.yaml"
        text = path.read_text()
        assert text.count(old) == 1, f"{group}: {old!r} is not in the rules exactly once"
        path.write_text(text.replace(old, new))
    return directory


def test_promtool_accepts_the_rule_files(promtool):
    result = run(promtool, "check", "rules", "--lint=all", "--lint-fatal", *RULE_GROUP_FILES, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        "Checking prometheus/rules/platform-apps-alerts.yaml\n  SUCCESS: 5 rules found\n\n"
        "Checking prometheus/rules/platform-apps-recording.yaml\n  SUCCESS: 6 rules found\n\n"
        "Checking prometheus/rules/prometheus-alerts.yaml\n  SUCCESS: 1 rules found\n\n")


def test_promtool_check_rules_catches_a_broken_expression(promtool, tmp_path):
    faulty_copy(tmp_path, [("prometheus-alerts", "prometheus_config_last_reload_successful == 0",
                            "prometheus_config_last_reload_successful ==")])
    result = run(promtool, "check", "rules", *RULE_GROUP_FILES, cwd=tmp_path)
    assert result.returncode == 1
    assert "prometheus/rules/prometheus-alerts.yaml: 9:15: group \"prometheus-alerts\", rule 1, " \
           "\"PrometheusConfigReloadFailed\": could not parse expression" in result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_the_config_map_carries_exactly_the_groups_of_the_rule_files(prometheus_render, stack):
    data = prometheus_render(stack).config_map_data
    assert sorted(data) == sorted(["prometheus.yml", *CONFIG_MAP_RULE_FILES])
    carried = {name: yaml.safe_load(data[name])["groups"] for name in CONFIG_MAP_RULE_FILES}
    assert {name: [group["name"] for group in groups] for name, groups in carried.items()} == {
        "platform-apps.rules.yml": ["platform-apps-recording", "platform-apps-alerts"],
        "prometheus.rules.yml": ["prometheus-alerts"],
    }
    groups = {group["name"]: group for groups in carried.values() for group in groups}
    assert groups == {path.stem: rule_group(path.stem) for path in PROMETHEUS_RULES_DIR.glob("*.yaml")}


@ONE_RUN
def test_rule_unit_tests_pass_on_the_rule_files(rule_test_results):
    result = rule_test_results[RULE_FILES]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["SUCCESS"] * len(TEST_FILES)


def _unit_tests() -> list[dict]:
    return [case for name in TEST_FILES
            for case in yaml.safe_load((REPO_ROOT / name).read_text())["tests"]]


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_silent():
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    checks = [check for case in _unit_tests() for check in case.get("alert_rule_test", [])]
    fires = {c["alertname"] for c in checks if c["exp_alerts"]}
    silent = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert alerts == {"AppTargetDown", "AppTargetMissing", "AppHighErrorRatio", "AppHighLatencyP99",
                      "WorkerStalled", "PrometheusConfigReloadFailed"}
    assert fires == alerts
    assert silent == alerts


def test_every_recording_rule_has_a_unit_test():
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    exprs = " ".join(check["expr"] for case in _unit_tests() for check in case.get("promql_expr_test", []))
    assert sorted(r for r in recorded if not re.search(rf"(^|\W){re.escape(r)}(\W|$)", exprs)) == []
    assert len(recorded) == 6


def test_every_rule_range_is_the_rate_window_the_scrape_interval_is_checked_against():
    # platform_ops.config refuses a scrape interval that gives RATE_WINDOW too few samples.
    ranges = {r for rule in _rules() for r in re.findall(r"\[(\w+)\]", rule["expr"])}
    assert ranges == {RATE_WINDOW}


@pytest.mark.parametrize("status", sorted(http.HTTPStatus, key=int), ids=lambda s: str(int(s)))
def test_the_5xx_regex_matches_server_errors_in_both_label_styles_and_nothing_else(status):
    # PromQL regexes are fully anchored, as re.fullmatch is.
    server_error = 500 <= status < 600
    assert bool(re.fullmatch(status_regex(), str(int(status)))) is server_error
    assert bool(re.fullmatch(status_regex(), status.phrase)) is server_error


def test_the_5xx_texts_are_the_standard_reason_phrases():
    # Go's http.StatusText and Python's HTTPStatus agree on every 5xx phrase.
    assert status_regex().split("|") == ["5..", *(s.phrase for s in http.HTTPStatus if 500 <= s < 600)]


# Each fault is one a reviewer could plausibly let through: edits of the rule files as
# (group, old text, new text). The unit tests must catch it, and `promtool test rules` must name
# the alert or expression and evaluation time that caught it.
FAULTS = {
    "numeric codes only": (
        [("platform-apps-recording", f'status=~"{status_regex()}"', 'status=~"5.."')],
        ["alertname: AppHighErrorRatio, time: 10m,", 'expr: "job:http_requests_5xx:rate5m", time: 10m,']),
    "status texts only": (
        [("platform-apps-recording", 'status=~"5..|', 'status=~"')],
        ["alertname: AppHighErrorRatio, time: 10m,"]),
    "5xx ratio threshold at 1%": (
        [("platform-apps-alerts", "job:http_requests_5xx:ratio_rate5m > 0.05", "job:http_requests_5xx:ratio_rate5m > 0.01")],
        ["alertname: AppHighErrorRatio, time: 20m,"]),
    "worker window longer than the stall": (
        [("platform-apps-alerts", "increase(worker_jobs_processed_total[5m])", "increase(worker_jobs_processed_total[15m])")],
        ["alertname: WorkerStalled, time: 13m,"]),
    "an app left out of the rules": (
        [("platform-apps-alerts", 'up{job=~"api-node|core-go|worker-python"}', 'up{job=~"api-node|core-go"}'),
         ("platform-apps-alerts", ' or absent(up{job="worker-python"})', "")],
        ["alertname: AppTargetMissing, time: 8m,"]),
    "p99 threshold at 3s": (
        [("platform-apps-alerts", "job:http_request_duration_seconds:p99_rate5m > 1",
          "job:http_request_duration_seconds:p99_rate5m > 3")],
        ["alertname: AppHighLatencyP99, time: 15m,"]),
}


RULE_FILES = "the rule files"


@pytest.fixture(scope="module")
def rule_test_results(promtool, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """`promtool test rules` of every unit test file on the repository's rule files and on a
    faulty copy for each fault, side by side: each run is a process of its own (and takes most
    of a second of CPU)."""
    workdirs = {RULE_FILES: REPO_ROOT}
    for fault, (edits, _) in FAULTS.items():
        workdirs[fault] = faulty_copy(tmp_path_factory.mktemp(re.sub(r"\W+", "-", fault)), edits)
    started = {}
    for key, workdir in workdirs.items():
        args = [promtool, "test", "rules", *TEST_FILES]
        started[key] = (args, subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True))
    results = {}
    for key, (args, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[key] = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    return results


@ONE_RUN
@pytest.mark.parametrize("fault", FAULTS)
def test_rule_unit_tests_catch_a_faulty_rule(rule_test_results, fault):
    _, caught_by = FAULTS[fault]
    result = rule_test_results[fault]
    assert result.returncode == 1
    for evidence in caught_by:
        assert evidence in result.stdout + result.stderr
