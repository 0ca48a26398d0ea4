"""Discovery proof: the real Prometheus, running the rendered ConfigMap, finds exactly the
platform's apps among the Pods and EndpointSlices that the rendered charts make.

Only the kubernetes_sd_configs block differs from the cluster: it becomes file_sd_configs whose
target groups carry the labels Kubernetes endpointslice discovery would attach
(tests/prometheus/discovery.py), with loopback addresses as pod IPs and a small HTTP server on
each container port. Everything is asserted through Prometheus's HTTP API.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
import yaml

from tests.prometheus.discovery import DiscoveryRun, discovery_run

STACK = "dev"
APPS = ["api-node", "core-go", "worker-python"]
# Polls are one second apart. Scrapes run every 30s, and rate()-based rules need two scrapes and
# one evaluation after them, so data shows up within about 90s; the bounds only stop a broken run.
READY_POLLS = 120
UP_POLLS = 180
RULE_POLLS = 240
NAME_LABEL = "app.kubernetes.io/name"


@dataclass
class Observed:
    run: DiscoveryRun
    active: list[dict]
    dropped: list[dict]
    error_ratio: list[dict]


def all_up(run: DiscoveryRun):
    active = run.prometheus.targets()["activeTargets"]
    return active if active and all(t["health"] == "up" for t in active) else None


def app_namespace(render) -> str:
    [namespace] = {s.namespace for s in render.chart_sources}
    return namespace


@pytest.fixture(scope="module")
def observed(prometheus_render, chart_renders, prometheus_binary, tmp_path_factory):
    render = prometheus_render(STACK)
    with discovery_run(prometheus_binary, render.config_map_data, chart_renders(STACK), app_namespace(render),
                       tmp_path_factory.mktemp("discovery")) as run:
        p = run.prometheus
        p.wait_for("Prometheus to be ready", p.ready, READY_POLLS)
        active = p.wait_for("every active target to be up", lambda: all_up(run), UP_POLLS)
        ratio = p.wait_for("the 5xx ratio of both HTTP apps",
                           lambda: (r := p.query("job:http_requests_5xx:ratio_rate5m")) and len(r) == 2 and r,
                           RULE_POLLS)
        yield Observed(run, active, p.targets()["droppedTargets"], ratio)


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
        ("kubernetes", "https", ""),
        ("toolbox", "metrics", "Running"),
    ]


def test_the_error_ratio_rule_counts_numeric_and_text_5xx(observed):
    # The stand-in apps answer 1 in 10 requests with a server error: api-node as "500",
    # core-go as "Internal Server Error".
    ratios = {s["metric"]["job"]: float(s["value"][1]) for s in observed.error_ratio}
    assert ratios.keys() == {"api-node", "core-go"}
    assert all(abs(r - 0.1) < 1e-9 for r in ratios.values()), ratios
    assert {s["metric"]["namespace"] for s in observed.error_ratio} == {"default"}


def test_the_latency_rules_return_data_for_both_http_apps(observed):
    p99 = observed.run.prometheus.query("job:http_request_duration_seconds:p99_rate5m")
    # Every stand-in request takes 0.05s to 0.1s: p99 interpolates to 0.0995s.
    assert sorted((s["metric"]["job"], round(float(s["value"][1]), 6)) for s in p99) == [
        ("api-node", 0.0995), ("core-go", 0.0995)]


def test_the_worker_counter_is_scraped_with_its_pod(observed):
    series = observed.run.prometheus.query("worker_jobs_processed_total")
    assert [(s["metric"]["job"], s["metric"]["namespace"], s["metric"]["service"]) for s in series] == [
        ("worker-python", "default", "worker-python")]


def test_no_alert_fires_for_a_healthy_platform(observed):
    alerts = observed.run.prometheus.get("/api/v1/alerts")["data"]["alerts"]
    assert [a for a in alerts if a["state"] == "firing"] == []


def _without(config_map_data: dict[str, str], *dropped_sources: str) -> dict[str, str]:
    config = yaml.safe_load(config_map_data["prometheus.yml"])
    job = config["scrape_configs"][1]
    job["relabel_configs"] = [r for r in job["relabel_configs"]
                              if not (r.get("action") == "keep" and r["source_labels"][0] in dropped_sources)]
    return {**config_map_data, "prometheus.yml": yaml.safe_dump(config, sort_keys=False)}


def test_the_proof_catches_relabeling_that_lets_decoys_through(prometheus_render, chart_renders,
                                                               prometheus_binary, tmp_path):
    render = prometheus_render(STACK)
    faulty = _without(render.config_map_data, "__meta_kubernetes_pod_phase",
                      "__meta_kubernetes_service_label_app_kubernetes_io_part_of")
    with discovery_run(prometheus_binary, faulty, chart_renders(STACK), app_namespace(render), tmp_path) as run:
        p = run.prometheus
        p.wait_for("Prometheus to be ready", p.ready, READY_POLLS)
        active = p.wait_for("discovered targets", lambda: p.targets()["activeTargets"], UP_POLLS)
        active_pods = {t["labels"].get("pod") for t in active}
        let_through = sorted(d.reason for d in run.decoys if d.pod in active_pods)
    assert let_through == ["Service not part-of platform-ops", "api-node pod in phase Pending"]


def test_a_failing_run_still_stops_prometheus_and_every_app_server(prometheus_render, chart_renders,
                                                                 prometheus_binary, tmp_path):
    render = prometheus_render(STACK)
    with pytest.raises(RuntimeError, match="^test failure inside the run$"):
        with discovery_run(prometheus_binary, render.config_map_data, chart_renders(STACK),
                           app_namespace(render), tmp_path) as run:
            run.prometheus.wait_for("Prometheus to be ready", run.prometheus.ready, READY_POLLS)
            endpoints = [(p["status"]["podIP"], cp["containerPort"]) for p in run.cluster.pods
                         for c in p["spec"]["containers"] for cp in c["ports"]]
            endpoints.append(("127.0.0.1", run.prometheus.port))
            raise RuntimeError("test failure inside the run")
    assert run.prometheus.process.poll() is not None
    for host, port in endpoints:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5).close()
