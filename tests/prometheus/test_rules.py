"""Recording rules and alerts: valid for promtool, and unit-tested with `promtool test rules`."""
from __future__ import annotations

import http
import re
import shutil
import subprocess

import pytest
import yaml

from components import prometheus as prom
from tests.prometheus.harness import RULE_TESTS_DIR, program_args, run, write_files

RULE_FILES = ["platform-apps.rules.yml", "prometheus.rules.yml"]
TEST_FILES = sorted(p.name for p in RULE_TESTS_DIR.glob("*.test.yml"))


def rule_tests(promtool, directory, rule_files: dict[str, dict[str, str]]) -> dict[str, subprocess.CompletedProcess]:
    """`promtool test rules` of every unit test file against each set of `rule_files`, all at once:
    each run is a process of its own, in a directory of its own."""
    started = {}
    for key, files in rule_files.items():
        workdir = write_files(directory / re.sub(r"\W+", "-", key), files)
        for name in TEST_FILES:
            shutil.copy(RULE_TESTS_DIR / name, workdir / name)
        args = [promtool, "test", "rules", *TEST_FILES]
        started[key] = (args, subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True))
    results = {}
    for key, (args, process) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[key] = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    return results


def rule_files_of(apps=None) -> dict[str, str]:
    args = program_args("dev")
    return {name: prom.dump_yaml(doc) for name, doc in prom.build_rule_files(apps or args.apps).items()}


def test_promtool_accepts_the_rule_files(prometheus_render, promtool, tmp_path):
    files = prometheus_render("dev").config_map_data
    write_files(tmp_path, {name: files[name] for name in RULE_FILES})
    result = run(promtool, "check", "rules", "--lint=all", "--lint-fatal", *RULE_FILES, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        "Checking platform-apps.rules.yml\n  SUCCESS: 11 rules found\n\n"
        "Checking prometheus.rules.yml\n  SUCCESS: 1 rules found\n\n")


def test_promtool_check_rules_catches_a_broken_expression(promtool, tmp_path):
    files = rule_files_of()
    files["prometheus.rules.yml"] = files["prometheus.rules.yml"].replace(
        "prometheus_config_last_reload_successful == 0", "prometheus_config_last_reload_successful ==")
    write_files(tmp_path, files)
    result = run(promtool, "check", "rules", *RULE_FILES, cwd=tmp_path)
    assert result.returncode == 1
    assert "prometheus.rules.yml: 5:11: group \"prometheus-alerts\", rule 1, \"PrometheusConfigReloadFailed\": " \
           "could not parse expression" in result.stderr


def test_rule_unit_tests_pass_on_the_rendered_rule_files(rule_test_results):
    result = rule_test_results[RENDERED]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["SUCCESS"] * len(TEST_FILES)


def _unit_tests() -> list[dict]:
    return [case for name in TEST_FILES
            for case in yaml.safe_load((RULE_TESTS_DIR / name).read_text())["tests"]]


def _rules() -> list[dict]:
    return [rule for doc in prom.build_rule_files(program_args("dev").apps).values()
            for group in doc["groups"] for rule in group["rules"]]


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


@pytest.mark.parametrize("status", sorted(http.HTTPStatus, key=int), ids=lambda s: str(int(s)))
def test_the_5xx_regex_matches_server_errors_in_both_label_styles_and_nothing_else(status):
    # PromQL regexes are fully anchored, as re.fullmatch is.
    server_error = 500 <= status < 600
    assert bool(re.fullmatch(prom.HTTP_5XX_STATUS_REGEX, str(int(status)))) is server_error
    assert bool(re.fullmatch(prom.HTTP_5XX_STATUS_REGEX, status.phrase)) is server_error


def test_the_5xx_texts_are_the_standard_reason_phrases():
    # Go's http.StatusText and Python's HTTPStatus agree on every 5xx phrase.
    assert prom.HTTP_5XX_STATUS_TEXTS == tuple(s.phrase for s in http.HTTPStatus if 500 <= s < 600)


# Each fault is one a reviewer could plausibly let through; the unit tests must catch it, and
# `promtool test rules` must name the alert or expression and evaluation time that caught it.
FAULTS = {
    "numeric codes only": (
        lambda mp: mp.setattr(prom, "HTTP_5XX_STATUS_REGEX", "5.."), None,
        ["alertname: AppHighErrorRatio, time: 10m,", 'expr: "job:http_requests_5xx:rate5m", time: 10m,']),
    "status texts only": (
        lambda mp: mp.setattr(prom, "HTTP_5XX_STATUS_REGEX", "|".join(prom.HTTP_5XX_STATUS_TEXTS)), None,
        ["alertname: AppHighErrorRatio, time: 10m,"]),
    "5xx ratio threshold at 1%": (
        lambda mp: mp.setattr(prom, "ERROR_RATIO_THRESHOLD", 0.01), None,
        ["alertname: AppHighErrorRatio, time: 20m,"]),
    "worker window longer than the stall": (
        lambda mp: mp.setattr(prom, "WORKER_STALL_WINDOW", "15m"), None,
        ["alertname: WorkerStalled, time: 13m,"]),
    "an app left out of the rules": (
        lambda mp: None, ["api-node", "core-go"],
        ["alertname: AppTargetMissing, time: 8m,"]),
    "p99 threshold at 3s": (
        lambda mp: mp.setattr(prom, "P99_LATENCY_THRESHOLD_SECONDS", 3), None,
        ["alertname: AppHighLatencyP99, time: 15m,"]),
}


RENDERED = "the rendered rule files"


@pytest.fixture(scope="module")
def rule_test_results(prometheus_render, promtool, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """The unit tests run on the rendered rule files and on the rule files of each fault, side by
    side (each run takes most of a second of CPU)."""
    files = prometheus_render("dev").config_map_data
    rule_files = {RENDERED: {name: files[name] for name in RULE_FILES}}
    for fault, (break_rules, apps, _) in FAULTS.items():
        with pytest.MonkeyPatch.context() as monkeypatch:
            break_rules(monkeypatch)
            rule_files[fault] = rule_files_of(apps)
    return rule_tests(promtool, tmp_path_factory.mktemp("rule-tests"), rule_files)


@pytest.mark.parametrize("fault", FAULTS)
def test_rule_unit_tests_catch_a_faulty_rule(rule_test_results, fault):
    _, _, caught_by = FAULTS[fault]
    result = rule_test_results[fault]
    assert result.returncode == 1
    for evidence in caught_by:
        assert evidence in result.stdout + result.stderr
