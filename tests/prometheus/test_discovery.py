"""Discovery proof: the real Prometheus, running the rendered ConfigMap, finds exactly the
platform's apps among the Pods and EndpointSlices that the rendered charts make.

Only the kubernetes_sd_configs block differs from the cluster: it becomes file_sd_configs whose
target groups carry the labels Kubernetes endpointslice discovery would attach
(testbed/discovery_proof.py), with loopback addresses as pod IPs and a small HTTP server on
each container port. So that the proof takes seconds, not minutes, Prometheus scrapes and evaluates
rules every second instead of at the stack's interval; the test of the copy shows nothing else
changes. Everything is asserted through Prometheus's HTTP API.
"""
from __future__ import annotations

import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import pytest
import yaml

from testbed import discovery_proof as discovery
from testbed.discovery_proof import PROOF_INTERVAL, DiscoveryRun, timing_differences, with_interval
from tests.prometheus.harness import program_args

STACK = "dev"
APPS = ["api-node", "core-go", "worker-python"]
# The proof runs a copy of the ConfigMap that scrapes and evaluates rules every second instead of
# every 30s (nothing else differs: test_the_proof_changes_only_the_intervals_of_the_config), and
# its scrape manager takes discovered targets as often. The rules' 5m rate windows need two
# samples, so rule data shows up a few seconds after the targets.
INTERVAL = PROOF_INTERVAL
# Seconds; the bound only stops a broken run.
TIMEOUT = 60
NAME_LABEL = "app.kubernetes.io/name"


@dataclass
class Observed:
    run: DiscoveryRun
    active: list[dict]
    dropped: list[dict]
    error_ratio: list[dict]
    rule_groups: list[dict]


def app_namespace(render) -> str:
    [namespace] = {s.namespace for s in render.chart_sources}
    return namespace


@contextmanager
def proof_run(prometheus_binary: str, config_map_data: dict[str, str], chart_manifests, render,
              workdir) -> Iterator[DiscoveryRun]:
    """The ConfigMap's files, at the proof's interval, run by a ready Prometheus against the
    stand-in cluster."""
    with discovery.proof_run(prometheus_binary, config_map_data, chart_manifests, app_namespace(render),
                             workdir, INTERVAL) as run:
        run.prometheus.wait_for("Prometheus to be ready", run.prometheus.ready, TIMEOUT)
        yield run


def _timestamp(rfc3339: str) -> float:
    # Prometheus gives nanoseconds; datetime takes microseconds.
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", rfc3339).replace("Z", "+00:00")).timestamp()


def rule_groups_evaluated_since(run: DiscoveryRun, since: float) -> list[dict] | None:
    groups = run.prometheus.get("/api/v1/rules")["data"]["groups"]
    return groups if groups and all(_timestamp(g["lastEvaluation"]) > since for g in groups) else None


def _without(config_map_data: dict[str, str], *dropped_sources: str) -> dict[str, str]:
    """The ConfigMap's files without the keep rules on `dropped_sources`."""
    config = yaml.safe_load(config_map_data["prometheus.yml"])
    job = config["scrape_configs"][1]
    job["relabel_configs"] = [r for r in job["relabel_configs"]
                              if not (r.get("action") == "keep" and r["source_labels"][0] in dropped_sources)]
    return {**config_map_data, "prometheus.yml": yaml.safe_dump(config, sort_keys=False)}


# The keep rules the negative run leaves out: without them, the not-Running pod and the Service
# that is not part-of the platform would be scraped.
LEFT_OUT_KEEPS = ("__meta_kubernetes_pod_phase", "__meta_kubernetes_service_label_app_kubernetes_io_part_of")


# The tests read the same two Prometheus runs, which spend most of their time waiting for scrapes:
# one worker makes them once (pytest-xdist group).
pytestmark = pytest.mark.xdist_group("prometheus-discovery-runs")


@dataclass
class Runs:
    proof: DiscoveryRun
    without_keeps: DiscoveryRun   # the ConfigMap without LEFT_OUT_KEEPS


@pytest.fixture(scope="module")
def runs(prometheus_render, chart_renders, prometheus_binary, tmp_path_factory):
    """The proof's run and the negative run, side by side: both spend their time waiting for scrapes."""
    render = prometheus_render(STACK)
    with proof_run(prometheus_binary, render.config_map_data, chart_renders(STACK), render,
                   tmp_path_factory.mktemp("discovery")) as proof, \
         proof_run(prometheus_binary, _without(render.config_map_data, *LEFT_OUT_KEEPS), chart_renders(STACK),
                   render, tmp_path_factory.mktemp("discovery-without-keeps")) as without_keeps:
        yield Runs(proof, without_keeps)


@pytest.fixture(scope="module")
def observed(runs):
    run = runs.proof
    p = run.prometheus
    targets = p.wait_for("every offered target kept or dropped, and every kept one up", run.targets_once_all_up,
                         TIMEOUT)
    ratio = p.wait_for("the 5xx ratio of both HTTP apps",
                       lambda: (r := p.query("job:http_requests_5xx:ratio_rate5m")) and len(r) == 2 and r,
                       TIMEOUT)
    data_at = time.time()
    groups = p.wait_for("every rule group evaluated on the recorded data",
                        lambda: rule_groups_evaluated_since(run, data_at), TIMEOUT)
    return Observed(run, targets["activeTargets"], targets["droppedTargets"], ratio, groups)


def chart_objects(chart_renders, kind: str) -> dict[str, dict]:
    """app -> its chart's single object of `kind`."""
    out = {}
    for app, manifests in chart_renders(STACK).items():
        [obj] = [m for m in manifests if m["kind"] == kind]
        out[app] = obj
    return out


def test_exactly_the_platform_apps_and_prometheus_are_scraped(observed):
    assert sorted((t["labels"]["job"], t["health"]) for t in observed.active) == [
        ("api-node", "up"), ("core-go", "up"), ("prometheus", "up"), ("worker-python", "up")]


def test_up_is_1_for_every_target(observed):
    up = observed.run.prometheus.query("up")
    assert sorted((s["metric"]["job"], s["value"][1]) for s in up) == [
        ("api-node", "1"), ("core-go", "1"), ("prometheus", "1"), ("worker-python", "1")]


def test_app_targets_are_the_running_pods_metrics_ports_labelled_as_designed(observed, chart_renders):
    services = chart_objects(chart_renders, "Service")
    decoys = {d.pod for d in observed.run.decoys}
    expected = []
    for app in APPS:
        [pod] = [p for p in observed.run.cluster.pods
                 if p["metadata"]["labels"].get(NAME_LABEL) == app and p["metadata"]["name"] not in decoys]
        # Discovery contract: Service port "metrics" -> the container port that serves /metrics.
        [metrics] = [port for port in services[app]["spec"]["ports"] if port["name"] == "metrics"]
        [number] = [cp["containerPort"] for c in pod["spec"]["containers"] for cp in c["ports"]
                    if cp["name"] == metrics["targetPort"]]
        address = f"{pod['status']['podIP']}:{number}"
        expected.append(({"instance": address, "job": app, "namespace": pod["metadata"]["namespace"],
                          "pod": pod["metadata"]["name"], "service": services[app]["metadata"]["name"]},
                         f"http://{address}/metrics"))
    got = [(t["labels"], t["scrapeUrl"]) for t in observed.active if t["labels"]["job"] != "prometheus"]
    assert sorted(got, key=lambda g: g[0]["job"]) == expected


def test_decoys_are_discovered_but_dropped(observed):
    dropped_pods = {t["discoveredLabels"].get("__meta_kubernetes_pod_name") for t in observed.dropped}
    active_pods = {t["labels"].get("pod") for t in observed.active}
    assert {d.reason for d in observed.run.decoys} == {
        "api-node pod in phase Pending", "Service not part-of platform-ops",
        "Service of an app that is not the platform's"}
    for decoy in observed.run.decoys:
        assert decoy.pod in dropped_pods, decoy
        assert decoy.pod not in active_pods, decoy


def test_ports_other_than_metrics_are_dropped(observed):
    meta = ("service_name", "endpointslice_port_name", "pod_phase")
    dropped = sorted(tuple(t["discoveredLabels"].get(f"__meta_kubernetes_{m}", "") for m in meta)
                     for t in observed.dropped)
    assert dropped == [
        ("api-node", "http", "Pending"),
        ("api-node", "http", "Running"),
        ("api-node", "metrics", "Pending"),
        ("core-go", "http", "Running"),
        ("core-go-debug", "metrics", "Running"),
        ("toolbox", "metrics", "Running"),
    ]


def test_the_error_ratio_rule_counts_numeric_and_text_5xx(observed):
    # The stand-in apps answer 1 in 10 requests with a server error: api-node as "500",
    # core-go as "Internal Server Error".
    ratios = {s["metric"]["job"]: float(s["value"][1]) for s in observed.error_ratio}
    assert ratios.keys() == {"api-node", "core-go"}
    assert all(abs(r - 0.1) < 1e-9 for r in ratios.values()), ratios
    assert {s["metric"]["namespace"] for s in observed.error_ratio} == {"apps"}


def test_the_latency_rules_return_data_for_both_http_apps(observed):
    p99 = observed.run.prometheus.query("job:http_request_duration_seconds:p99_rate5m")
    # Every stand-in request takes 0.05s to 0.1s: p99 interpolates to 0.0995s.
    assert sorted((s["metric"]["job"], round(float(s["value"][1]), 6)) for s in p99) == [
        ("api-node", 0.0995), ("core-go", 0.0995)]


def test_the_worker_counter_is_scraped_with_its_pod(observed):
    series = observed.run.prometheus.query("worker_jobs_processed_total")
    assert [(s["metric"]["job"], s["metric"]["namespace"], s["metric"]["service"]) for s in series] == [
        ("worker-python", "apps", "worker-python")]


def test_every_rule_evaluates_and_only_the_5xx_ratio_alert_is_pending(observed):
    # The stand-in apps' 10% of server errors is over the 5% threshold; every alert waits at least
    # 2m before it fires, so in this short run an alert whose condition holds is pending.
    rules = [r for g in observed.rule_groups for r in g["rules"]]
    assert sorted((r["name"], r["health"], r.get("lastError", "")) for r in rules) == sorted(
        (name, "ok", "") for name in (
            "job:http_requests:rate5m", "job:http_requests_5xx:rate5m", "job:http_requests_5xx:ratio_rate5m",
            "job:http_request_duration_seconds:p50_rate5m", "job:http_request_duration_seconds:p95_rate5m",
            "job:http_request_duration_seconds:p99_rate5m", "AppTargetDown", "AppTargetMissing",
            "AppHighErrorRatio", "AppHighLatencyP99", "WorkerStalled", "PrometheusConfigReloadFailed"))
    alerts = [(r["name"], a["labels"].get("job"), a["state"]) for r in rules if r["type"] == "alerting"
              for a in r["alerts"]]
    assert sorted(alerts) == [("AppHighErrorRatio", "api-node", "pending"), ("AppHighErrorRatio", "core-go", "pending")]


def test_the_proof_changes_only_the_intervals_of_the_config(prometheus_render):
    rendered = prometheus_render(STACK).config_map_data
    interval = program_args(STACK).settings.scrape_interval
    timing, other = timing_differences(rendered, with_interval(rendered, INTERVAL))
    assert timing == [f"prometheus.yml: global.evaluation_interval: '{interval}' -> '1s'",
                      f"prometheus.yml: global.scrape_interval: '{interval}' -> '1s'"]
    assert other == []


def test_the_interval_check_catches_any_other_change(prometheus_render):
    rendered = prometheus_render(STACK).config_map_data
    faulty = with_interval(rendered, INTERVAL)
    config = yaml.safe_load(faulty["prometheus.yml"])
    config["scrape_configs"][1]["scrape_timeout"] = "1s"
    config["scrape_configs"][1]["relabel_configs"][3]["regex"] = "Running|Pending"
    config["global"]["external_labels"] = {"cluster": "test"}
    faulty["prometheus.yml"] = yaml.safe_dump(config, sort_keys=False)
    faulty["prometheus.rules.yml"] = faulty["prometheus.rules.yml"].replace("for: 2m", "for: 2s")
    del faulty["platform-apps.rules.yml"]
    faulty["extra.rules.yml"] = "groups: []\n"
    interval = program_args(STACK).settings.scrape_interval
    timing, other = timing_differences(rendered, faulty)
    assert timing == [f"prometheus.yml: global.evaluation_interval: '{interval}' -> '1s'",
                      f"prometheus.yml: global.scrape_interval: '{interval}' -> '1s'",
                      "prometheus.yml: scrape_configs[1].scrape_timeout: added ('1s')"]
    assert other == [
        "extra.rules.yml: added",
        "platform-apps.rules.yml: missing",
        "prometheus.rules.yml: groups[0].rules[0].for: '2m' -> '2s'",
        "prometheus.yml: global.external_labels: added ({'cluster': 'test'})",
        "prometheus.yml: scrape_configs[1].relabel_configs[3].regex: 'Running' -> 'Running|Pending'",
    ]


def test_the_proof_catches_relabeling_that_lets_decoys_through(runs):
    run = runs.without_keeps
    targets = run.prometheus.wait_for("every offered target kept or dropped", run.targets_once_all_processed,
                                      TIMEOUT)
    active_pods = {t["labels"].get("pod") for t in targets["activeTargets"]}
    let_through = sorted(d.reason for d in run.decoys if d.pod in active_pods)
    assert let_through == ["Service not part-of platform-ops", "api-node pod in phase Pending"]


def test_a_failing_run_still_stops_prometheus_and_every_app_server(prometheus_render, chart_renders,
                                                                 prometheus_binary, tmp_path):
    render = prometheus_render(STACK)
    with pytest.raises(RuntimeError, match="^test failure inside the run$"):
        with proof_run(prometheus_binary, render.config_map_data, chart_renders(STACK), render, tmp_path) as run:
            endpoints = [(p["status"]["podIP"], cp["containerPort"]) for p in run.cluster.pods
                         for c in p["spec"]["containers"] for cp in c["ports"]]
            endpoints.append(("127.0.0.1", run.prometheus.port))
            raise RuntimeError("test failure inside the run")
    assert run.prometheus.process.poll() is not None
    for host, port in endpoints:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5).close()
