"""The files a user edits, read by platform_ops.config: each problem is one line naming the file,
the line and the key (`<file>:<line>: <key> <what is wrong>`), for YAML that does not parse, a key
set twice, a Chart.yaml Helm would refuse, and values that break their chart's values.schema.json."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from platform_ops.config import ConfigError, load_stack_file


@pytest.fixture
def repo(repo_root, tmp_path) -> Path:
    """A copy of the stack files and charts that a test may break."""
    shutil.copytree(repo_root / "charts", tmp_path / "charts", ignore=shutil.ignore_patterns("*.tgz"))
    for stack_file in repo_root.glob("Pulumi.*.yaml"):
        shutil.copy(stack_file, tmp_path)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new))


def error_of(repo: Path, stack: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        load_stack_file(stack, repo)
    return str(caught.value)


def test_the_stack_files_and_charts_of_the_repository_load(repo):
    assert [app.service for app in load_stack_file("prod", repo).gitops.apps] == ["api-node", "core-go", "worker-python"]


# --- the stack file ---------------------------------------------------------------------------

def test_a_setting_problem_names_its_line_in_the_stack_file(repo):
    edit(repo / "Pulumi.dev.yaml", "scrapeInterval: 30s", "scrapeInterval: 90s")
    assert error_of(repo) == (
        'Pulumi.dev.yaml:43: platform-ops:prometheus.scrapeInterval must be at most 75s: the rules\' 5m rate '
        'windows need 4 samples each, got "90s"')


def test_a_setting_of_the_wrong_type_names_its_line(repo):
    edit(repo / "Pulumi.dev.yaml", "httpPort: 80", "httpPort: [80]")
    assert error_of(repo) == (
        "Pulumi.dev.yaml:9: platform-ops:cluster.httpPort must be a port number between 1 and 65535, got [80]")


def test_a_missing_setting_names_the_line_of_its_section(repo):
    edit(repo / "Pulumi.dev.yaml", "    version: v3.13.4\n", "")
    assert error_of(repo) == "Pulumi.dev.yaml:38: platform-ops:prometheus.version is required"


def test_a_tab_in_the_stack_file_names_line_column_and_section(repo):
    edit(repo / "Pulumi.dev.yaml", "    version: v3.5.7", "\tversion: v3.5.7")
    assert error_of(repo) == (
        "Pulumi.dev.yaml:21: platform-ops:argocd is not valid YAML: found character '\\t' that cannot start "
        "any token while scanning for the next token (column 1)")


def test_an_unclosed_quote_is_named_where_it_opens(repo):
    edit(repo / "Pulumi.dev.yaml", "targetRevision: main", 'targetRevision: "main')
    assert error_of(repo) == (
        "Pulumi.dev.yaml:32: platform-ops:gitops.targetRevision is not valid YAML: found unexpected end of "
        "stream while scanning a quoted scalar (column 21)")


def test_a_key_set_twice_is_refused_with_both_lines(repo):
    edit(repo / "Pulumi.dev.yaml", "    retention: 2d\n", "    retention: 2d\n    retention: 3d\n")
    assert error_of(repo) == "Pulumi.dev.yaml:43: platform-ops:prometheus.retention is set twice (first on line 42)"


def test_a_stack_file_that_is_not_utf8_is_refused(repo):
    path = repo / "Pulumi.dev.yaml"
    path.write_bytes(path.read_bytes() + b"\xff\n")
    assert error_of(repo) == f"Pulumi.dev.yaml: not UTF-8 text (byte {len(path.read_bytes()) - 1})"


def test_a_stack_file_that_is_a_list_is_refused(repo):
    (repo / "Pulumi.dev.yaml").write_text("- config\n")
    assert error_of(repo) == "Pulumi.dev.yaml:1: must be a mapping with a config: block, got a list"


def test_a_config_block_that_is_not_a_mapping_is_refused(repo):
    (repo / "Pulumi.dev.yaml").write_text("# dev\nconfig: dev\n")
    assert error_of(repo) == "Pulumi.dev.yaml:2: config must be a mapping of settings, got 'dev'"


def test_prometheus_memory_request_above_its_limit_is_refused(repo):
    edit(repo / "Pulumi.dev.yaml", "    scrapeInterval: 30s\n", "    scrapeInterval: 30s\n    memoryRequest: 1Gi\n")
    assert error_of(repo) == (
        'Pulumi.dev.yaml:44: platform-ops:prometheus.memoryRequest must not exceed prometheus.memoryLimit (512Mi), '
        'got "1Gi"')


def test_the_longest_scrape_interval_the_rules_allow_is_accepted(repo):
    edit(repo / "Pulumi.dev.yaml", "scrapeInterval: 30s", "scrapeInterval: 75s")
    assert load_stack_file("dev", repo).prometheus.scrape_interval == "75s"


# --- values files ------------------------------------------------------------------------------

def test_a_value_of_the_wrong_type_names_the_values_file_line_and_key(repo):
    edit(repo / "charts/api-node/values-dev.yaml", "replicaCount: 1", 'replicaCount: "one"')
    assert error_of(repo) == (
        "charts/api-node/values-dev.yaml:15: replicaCount does not match values.schema.json: "
        "'one' is not of type 'integer'")


def test_a_value_only_values_yaml_sets_is_named_there(repo):
    edit(repo / "charts/core-go/values.yaml", "revisionHistoryLimit: 5", "revisionHistoryLimit: many")
    assert error_of(repo) == (
        "charts/core-go/values.yaml:28: revisionHistoryLimit does not match values.schema.json: "
        "'many' is not of type 'integer'")


def test_an_unknown_value_names_its_line_and_the_known_ones(repo):
    edit(repo / "charts/worker-python/values-dev.yaml", "replicaCount: 1", "replicaCount: 1\nreplicas: 2")
    message = error_of(repo)
    assert message.startswith("charts/worker-python/values-dev.yaml:16: replicas is not a value of this chart "
                              "(values.schema.json allows: ")
    assert "\n" not in message


def test_a_required_value_left_out_is_named(repo):
    edit(repo / "charts/api-node/values-dev.yaml", "environment: dev\n", "")
    assert error_of(repo) == "charts/api-node/values-dev.yaml: environment is required by values.schema.json"


def test_a_tab_in_a_values_file_names_its_line(repo):
    edit(repo / "charts/api-node/values-dev.yaml", "    memory: 128Mi", "\tmemory: 128Mi")
    assert error_of(repo) == (
        "charts/api-node/values-dev.yaml:24: resources.limits is not valid YAML: found character '\\t' that "
        "cannot start any token while scanning for the next token (column 1)")


def test_a_values_file_that_is_not_a_mapping_is_refused(repo):
    (repo / "charts/core-go/values-dev.yaml").write_text("- replicaCount: 1\n")
    assert error_of(repo) == "charts/core-go/values-dev.yaml:1: must be a mapping of values, got [{'replicaCount': 1}]"


def test_every_chart_with_a_problem_is_named_at_once(repo):
    edit(repo / "charts/api-node/values-dev.yaml", "replicaCount: 1", "replicaCount: one")
    edit(repo / "charts/core-go/values-dev.yaml", "logLevel: debug", 'logLevel: "debug')
    assert [line.split(":")[0] for line in error_of(repo).splitlines()] == [
        "charts/api-node/values-dev.yaml", "charts/core-go/values-dev.yaml"]


# --- Chart.yaml --------------------------------------------------------------------------------

def test_a_chart_version_that_is_a_number_is_refused(repo):
    edit(repo / "charts/api-node/Chart.yaml", "version: 0.1.0\n#", "version: 1\n#")
    assert error_of(repo) == (
        "charts/api-node/Chart.yaml:5: version must be a SemVer 2 version such as 0.1.0, got 1")


def test_a_chart_named_other_than_its_folder_is_refused(repo):
    edit(repo / "charts/core-go/Chart.yaml", "name: core-go", "name: core")
    assert error_of(repo) == (
        'charts/core-go/Chart.yaml:2: name must be the chart\'s folder name, "core-go", a DNS label, got "core"')


def test_a_chart_folder_that_is_no_dns_label_is_refused(repo):
    (repo / "charts/core-go").rename(repo / "charts/core_go")
    edit(repo / "charts/core_go/Chart.yaml", "name: core-go", "name: core_go")
    assert error_of(repo).splitlines()[0] == (
        'charts/core_go/Chart.yaml:2: name must be the chart\'s folder name, "core_go", a DNS label, got "core_go"')


def test_an_unquoted_numeric_app_version_is_refused(repo):
    edit(repo / "charts/worker-python/Chart.yaml", 'appVersion: "', "appVersion: 1234567 #")
    assert error_of(repo) == "charts/worker-python/Chart.yaml:7: appVersion must be a string (quote it), got 1234567"


def test_dependencies_out_of_step_with_chart_lock_are_refused(repo):
    edit(repo / "charts/core-go/Chart.yaml", "    version: 0.1.0", "    version: 0.2.0")
    assert error_of(repo) == (
        "charts/core-go/Chart.yaml:8: dependencies do not match Chart.lock (locked: platform-lib 0.1.0 from "
        "file://../platform-lib); run helm dependency update charts/core-go")


def test_a_library_chart_yaml_is_checked_too(repo):
    edit(repo / "charts/platform-lib/Chart.yaml", "apiVersion: v2", "apiVersion: v1")
    assert error_of(repo) == 'charts/platform-lib/Chart.yaml:1: apiVersion must be "v2", got "v1"'


def test_a_dependency_without_a_repository_is_refused(repo):
    edit(repo / "charts/api-node/Chart.yaml", "    repository: file://../platform-lib\n", "")
    assert error_of(repo) == "charts/api-node/Chart.yaml:9: dependencies[0].repository is required"
