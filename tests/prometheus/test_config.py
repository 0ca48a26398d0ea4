"""prometheus.yml: built from the stack's settings, valid for the pinned promtool, stable."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from components import prometheus as prom
from tests.prometheus.harness import program_args, run, write_files
from platform_ops.contract import STACKS

APPS = ["api-node", "core-go", "worker-python"]


def settings(**changes):
    return dataclasses.replace(program_args("dev").settings, **changes)


def test_scrape_config_follows_the_discovery_contract(prometheus_render):
    config = yaml.safe_load(prometheus_render("dev").config_map_data["prometheus.yml"])
    assert config == {
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
        "rule_files": ["platform-apps.rules.yml", "prometheus.rules.yml"],
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
            {
                "job_name": "platform-apps",
                "kubernetes_sd_configs": [{"role": "endpointslice", "namespaces": {"names": ["apps"]}}],
                "relabel_configs": [
                    {"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_part_of"],
                     "regex": "platform-ops", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
                     "regex": "api-node|core-go|worker-python", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_endpointslice_port_name"],
                     "regex": "metrics", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
                    {"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
                     "target_label": "job"},
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                    {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
                ],
            },
        ],
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_scrapes_its_app_namespace_and_chart_apps(prometheus_render, stack):
    render = prometheus_render(stack)
    config = yaml.safe_load(render.config_map_data["prometheus.yml"])
    args = program_args(stack)
    job = config["scrape_configs"][1]
    # The Argo CD Applications register in no fixed order: compare them as sets, and the config's
    # lists with what the program passes, in the program's own order.
    namespaces = job["kubernetes_sd_configs"][0]["namespaces"]["names"]
    assert namespaces == list(args.app_namespaces)
    assert set(namespaces) == {s.namespace for s in render.chart_sources}
    apps = job["relabel_configs"][1]["regex"].split("|")
    assert apps == list(args.apps)
    assert len(apps) == len(set(apps)) == len(render.chart_sources)
    assert set(apps) == {s.service for s in render.chart_sources}
    assert config["global"]["scrape_interval"] == args.settings.scrape_interval


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_accepts_the_config_and_its_rule_files(prometheus_render, promtool, tmp_path, stack):
    write_files(tmp_path, prometheus_render(stack).config_map_data)
    result = run(promtool, "check", "config", "--lint=all", "--lint-fatal", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        "Checking prometheus.yml\n"
        "  SUCCESS: 2 rule files found\n"
        " SUCCESS: prometheus.yml is valid prometheus config file syntax\n"
        "\n"
        "Checking platform-apps.rules.yml\n"
        "  SUCCESS: 11 rules found\n"
        "\n"
        "Checking prometheus.rules.yml\n"
        "  SUCCESS: 1 rules found\n"
        "\n"
    )


def test_promtool_check_catches_a_broken_relabel_rule(prometheus_render, promtool, tmp_path):
    files = dict(prometheus_render("dev").config_map_data)
    files["prometheus.yml"] = files["prometheus.yml"].replace("action: keep", "action: kep", 1)
    write_files(tmp_path, files)
    result = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == 'FAILED: parsing YAML file prometheus.yml: unknown relabel action "kep"'


def test_promtool_check_catches_a_missing_rule_file(prometheus_render, promtool, tmp_path):
    files = dict(prometheus_render("dev").config_map_data)
    del files["prometheus.rules.yml"]
    write_files(tmp_path, files)
    result = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == '  FAILED: "prometheus.rules.yml" does not point to an existing file\n'


def test_config_map_text_is_deterministic():
    args = program_args("dev")
    first = prom.config_map_data(args.settings, args.app_namespaces, args.apps)
    second = prom.config_map_data(args.settings, list(args.app_namespaces), list(args.apps))
    assert first == second
    assert yaml.safe_load(first["prometheus.yml"]) == prom.build_prometheus_config(
        args.settings, args.app_namespaces, args.apps)
    assert prom.config_checksum(first) == prom.config_checksum(second)


def test_several_app_namespaces_are_all_watched():
    config = prom.build_prometheus_config(settings(), ["default", "team-a"], APPS)
    assert config["scrape_configs"][1]["kubernetes_sd_configs"] == [
        {"role": "endpointslice", "namespaces": {"names": ["default", "team-a"]}}]


def test_the_longest_allowed_scrape_interval_is_accepted():
    config = prom.build_prometheus_config(settings(scrape_interval="75s"), ["default"], APPS)
    assert config["global"] == {"scrape_interval": "75s", "evaluation_interval": "75s"}
