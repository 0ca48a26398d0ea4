"""Loading prometheus/rules/: one group per file, named after it, every rule with `alert` or
`record` and `expr`, every file in a rule file of the ConfigMap, and the alerts that list the apps
naming exactly the apps Prometheus scrapes. Each problem is one line naming the file and the key."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from components import prometheus as prom
from platform_ops.paths import PROMETHEUS_RULES_DIR
from tests.prometheus.harness import program_args, run_program

APPS = ["api-node", "core-go", "worker-python"]


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    """A copy of prometheus/rules/ that a test may break."""
    return Path(shutil.copytree(PROMETHEUS_RULES_DIR, tmp_path / "rules"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new))


def load_error(rules_dir: Path, apps=APPS) -> str:
    with pytest.raises(ValueError) as error:
        prom.load_rule_files(apps, rules_dir)
    return str(error.value)


def test_an_unbroken_copy_loads_as_the_repository_rules_do(rules_dir):
    assert prom.load_rule_files(APPS, rules_dir) == prom.load_rule_files(APPS)


def test_a_file_with_two_groups_is_refused(rules_dir):
    path = rules_dir / "prometheus-alerts.yaml"
    path.write_text(path.read_text() + "  - name: prometheus-more\n    rules: []\n")
    assert load_error(rules_dir) == f"{path}: groups: 2 groups, expected exactly one"


def test_a_group_not_named_after_its_file_is_refused(rules_dir):
    path = rules_dir / "prometheus-alerts.yaml"
    edit(path, "- name: prometheus-alerts", "- name: prometheus")
    assert load_error(rules_dir) == (
        f"{path}: groups[0].name: 'prometheus' does not match the file name (expected 'prometheus-alerts')")


def test_a_rule_without_expr_is_refused(rules_dir):
    path = rules_dir / "platform-apps-alerts.yaml"
    edit(path, "        expr: 'absent(up{job=\"api-node\"}) or absent(up{job=\"core-go\"}) "
               "or absent(up{job=\"worker-python\"})'\n", "")
    assert load_error(rules_dir) == f"{path}: groups[0].rules[1].expr: missing in AppTargetMissing"


def test_a_rule_with_neither_alert_nor_record_is_refused(rules_dir):
    path = rules_dir / "prometheus-alerts.yaml"
    edit(path, "- alert: PrometheusConfigReloadFailed", "- name: PrometheusConfigReloadFailed")
    assert load_error(rules_dir) == f"{path}: groups[0].rules[0]: neither alert nor record"


def test_a_file_that_is_not_yaml_is_refused(rules_dir):
    path = rules_dir / "prometheus-alerts.yaml"
    edit(path, "        for: 2m", "        for: [2m")
    assert load_error(rules_dir) == f"{path}: not valid YAML: expected ',' or ']', but got ':' (line 11)"


def test_a_group_file_in_no_rule_file_of_the_config_map_is_refused(rules_dir):
    (rules_dir / "node-alerts.yaml").write_text("groups:\n  - name: node-alerts\n    rules: []\n")
    assert load_error(rules_dir) == (
        f"{rules_dir}/node-alerts.yaml: group node-alerts is in no rule file of the ConfigMap "
        f"(RULE_FILES in components/prometheus.py)")


def test_a_missing_group_file_is_refused(rules_dir):
    (rules_dir / "prometheus-alerts.yaml").unlink()
    assert load_error(rules_dir) == (
        f"{rules_dir}/prometheus-alerts.yaml: missing; RULE_FILES in components/prometheus.py puts group "
        f"prometheus-alerts into prometheus.rules.yml")


def test_app_alerts_that_leave_out_a_scraped_app_are_refused():
    assert load_error(PROMETHEUS_RULES_DIR, [*APPS, "audit-go"]) == (
        "prometheus/rules/platform-apps-alerts.yaml: groups[0].rules[0].expr: AppTargetDown names the apps "
        "api-node, core-go, worker-python, not the apps Prometheus scrapes: api-node, audit-go, core-go, worker-python")


def test_app_alerts_that_name_an_app_not_scraped_are_refused():
    assert load_error(PROMETHEUS_RULES_DIR, ["api-node", "core-go"]) == (
        "prometheus/rules/platform-apps-alerts.yaml: groups[0].rules[0].expr: AppTargetDown names the apps "
        "api-node, core-go, worker-python, not the apps Prometheus scrapes: api-node, core-go")


def test_each_app_alert_is_compared_with_the_apps(rules_dir):
    path = rules_dir / "platform-apps-alerts.yaml"
    edit(path, ' or absent(up{job="worker-python"})', "")
    assert load_error(rules_dir) == (
        f"{path}: groups[0].rules[1].expr: AppTargetMissing names the apps api-node, core-go, "
        f"not the apps Prometheus scrapes: api-node, core-go, worker-python")


def test_a_renamed_app_alert_is_refused(rules_dir):
    path = rules_dir / "platform-apps-alerts.yaml"
    edit(path, "- alert: AppTargetDown", "- alert: AppScrapeFailing")
    assert load_error(rules_dir) == (
        f"{path}: groups[0].rules: no alert AppTargetDown, which has to name every app "
        f"(APP_NAMING_ALERTS in components/prometheus.py)")


def test_the_component_refuses_apps_the_rules_do_not_name_before_registering_anything():
    args = dataclasses.replace(program_args("dev"), apps=[*APPS, "audit-go"])

    def program():
        with pytest.raises(ValueError) as error:
            prom.Prometheus("prometheus", args)
        assert str(error.value).startswith("prometheus/rules/platform-apps-alerts.yaml: groups[0].rules[0].expr: ")

    assert run_program(program) == []
