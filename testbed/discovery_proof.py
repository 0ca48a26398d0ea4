"""A stand-in cluster for Prometheus's Kubernetes discovery, built from the rendered charts.

Kubernetes turns each chart's Deployment into Pods and each Service into an EndpointSlice; the
`endpointslice` discovery role then turns every (endpoint, port) pair of a slice into a target
carrying __meta_kubernetes_* labels of the slice, its Service and its Pod. This module does both
steps for the chart manifests, following Kubernetes' EndpointSlice controller and
discovery/kubernetes/endpointslice.go of Prometheus v3.13.4, so that a real Prometheus can run the
rendered prometheus.yml against it with its kubernetes_sd_configs swapped for file_sd_configs
holding the same target groups.

Pod IPs are loopback addresses (127.0.0.x) and every container port is a free port on that
address where a small HTTP server serves the metrics the real app serves.

The proof runs a copy of the ConfigMap that scrapes and evaluates every second instead of every
30s (`with_interval`); `timing_differences` shows that the copy changes nothing else.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import yaml

META = "__meta_kubernetes_"
NODE = "platform-dev-control-plane"
HOST_IP = "172.18.0.2"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
# Kubernetes' rand.SafeEncodeString alphabet: the characters of generated name suffixes.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:length])


def _sanitize(name: str) -> str:
    """Prometheus's strutil.SanitizeLabelName."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _object_labels(kind: str, meta: dict) -> dict[str, str]:
    """addObjectMetaLabels: name, labels and annotations of an object as meta labels."""
    out = {f"{META}{kind}_name": meta["name"]}
    for key, value in (meta.get("labels") or {}).items():
        out[f"{META}{kind}_label_{_sanitize(key)}"] = value
        out[f"{META}{kind}_labelpresent_{_sanitize(key)}"] = "true"
    for key, value in (meta.get("annotations") or {}).items():
        out[f"{META}{kind}_annotation_{_sanitize(key)}"] = value
        out[f"{META}{kind}_annotationpresent_{_sanitize(key)}"] = "true"
    return out


# --- the cluster: Pods and EndpointSlices the controllers make of the charts ------------------------

@dataclass
class Cluster:
    namespace: str
    pods: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    endpoint_slices: list[dict] = field(default_factory=list)

    def find_pod(self, name: str) -> dict | None:
        return next((p for p in self.pods if p["metadata"]["name"] == name), None)

    def pod(self, name: str) -> dict:
        pod = self.find_pod(name)
        assert pod is not None, name
        return pod


def pod_from_template(deployment: dict, namespace: str, ip: str, ports: Callable[[dict], int],
                      phase: str = "Running", index: int = 0) -> dict:
    """A Pod of a Deployment as its ReplicaSet creates it and the kubelet reports it.

    `ports(container_port)` gives the port that stands in for each declared container port."""
    template = copy.deepcopy(deployment["spec"]["template"])
    name = deployment["metadata"]["name"]
    template_hash = _suffix(json.dumps(template, sort_keys=True), 10)
    replica_set = f"{name}-{template_hash}"
    pod_name = f"{replica_set}-{_suffix(f'{replica_set}/{index}/{phase}', 5)}"
    labels = {**(template.get("metadata", {}).get("labels") or {}), "pod-template-hash": template_hash}
    spec = template["spec"]
    for container in spec.get("containers", []):
        for port in container.get("ports") or []:
            port["containerPort"] = ports(port)
            port.setdefault("protocol", "TCP")
    spec["nodeName"] = NODE
    ready = phase == "Running"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": namespace,
            "uid": f"uid-{pod_name}",
            "labels": labels,
            "annotations": template.get("metadata", {}).get("annotations") or {},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set,
                                 "uid": f"uid-{replica_set}", "controller": True}],
        },
        "spec": spec,
        "status": {
            "phase": phase,
            "podIP": ip,
            "hostIP": HOST_IP,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _target_port(service_port: dict, pod: dict) -> int | None:
    target = service_port.get("targetPort", service_port["port"])
    if isinstance(target, int):
        return target
    for container in pod["spec"].get("containers", []):
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return port["containerPort"]
    return None


def endpoint_slices(service: dict, pods: list[dict]) -> list[dict]:
    """The EndpointSlices Kubernetes' EndpointSlice controller keeps for a Service with a selector.

    Pods with an IP that are not terminal are endpoints; not Ready ones are neither ready nor
    serving. A slice's ports are the Service's ports resolved to numbers, so pods whose named
    target ports resolve to different numbers land in different slices, as the controller does."""
    meta = service["metadata"]
    selected = [p for p in pods if p["metadata"]["namespace"] == meta["namespace"]
                and _selects(service["spec"].get("selector") or {}, p["metadata"]["labels"])
                and p["status"].get("podIP") and p["status"]["phase"] not in ("Succeeded", "Failed")]
    by_ports: dict[tuple, list[dict]] = {}
    for pod in selected:
        resolved = tuple((sp.get("name", ""), _target_port(sp, pod), sp.get("protocol", "TCP"))
                         for sp in service["spec"]["ports"])
        by_ports.setdefault(resolved, []).append(pod)
    slices = []
    for index, (ports, members) in enumerate(by_ports.items()):
        endpoints = []
        for pod in members:
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
            endpoints.append({
                "addresses": [pod["status"]["podIP"]],
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
                "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": meta["namespace"],
                              "uid": pod["metadata"]["uid"]},
            })
        slices.append({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{meta['name']}-{_suffix(meta['name'] + '/' + str(index), 5)}",
                "namespace": meta["namespace"],
                # The controller copies the Service's labels onto its slices.
                "labels": {**(meta.get("labels") or {}), SERVICE_NAME_LABEL: meta["name"],
                           MANAGED_BY_LABEL: "endpointslice-controller.k8s.io"},
            },
            "addressType": "IPv4",
            "ports": [{"name": name, "port": number, "protocol": protocol} for name, number, protocol in ports],
            "endpoints": endpoints,
        })
    return slices


# --- what Prometheus's endpointslice role makes of them ---------------------------------------------

def _pod_labels(pod: dict) -> dict[str, str]:
    """podLabels of discovery/kubernetes/pod.go."""
    status = pod.get("status", {})
    ready = next((c["status"].lower() for c in status.get("conditions", []) if c["type"] == "Ready"),
                 "unknown")
    labels = {
        f"{META}pod_ip": status.get("podIP", ""),
        f"{META}pod_ready": ready,
        f"{META}pod_phase": status.get("phase", ""),
        f"{META}pod_node_name": pod["spec"].get("nodeName", ""),
        f"{META}pod_host_ip": status.get("hostIP", ""),
        f"{META}pod_uid": pod["metadata"].get("uid", ""),
        **_object_labels("pod", pod["metadata"]),
    }
    owner = next((o for o in pod["metadata"].get("ownerReferences", []) if o.get("controller")), None)
    if owner:
        labels[f"{META}pod_controller_kind"] = owner["kind"]
        labels[f"{META}pod_controller_name"] = owner["name"]
    return labels


def _container_port_labels(container: dict, port: dict, is_init: bool) -> dict[str, str]:
    return {
        f"{META}pod_container_name": container["name"],
        f"{META}pod_container_image": container.get("image", ""),
        f"{META}pod_container_port_name": port.get("name", ""),
        f"{META}pod_container_port_number": str(port["containerPort"]),
        f"{META}pod_container_port_protocol": port.get("protocol", "TCP"),
        f"{META}pod_container_init": "true" if is_init else "false",
    }


def _containers(pod: dict) -> list[tuple[dict, bool]]:
    spec = pod["spec"]
    return ([(c, False) for c in spec.get("containers", [])]
            + [(c, True) for c in spec.get("initContainers", []) or []])


def endpoint_slice_targets(cluster: Cluster, slice_: dict) -> list[dict]:
    """buildEndpointSlice: the target group of one EndpointSlice, one file_sd group per target
    (group labels merged under each target's own, as Prometheus merges them)."""
    meta = slice_["metadata"]
    group = {f"{META}namespace": meta["namespace"],
             f"{META}endpointslice_address_type": slice_["addressType"],
             **_object_labels("endpointslice", meta)}
    service_name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    service = next((s for s in cluster.services if s["metadata"]["name"] == service_name), None)
    if service is not None:
        group.update({f"{META}namespace": service["metadata"]["namespace"],
                      **_object_labels("service", service["metadata"])})
    targets: list[dict] = []
    seen: dict[str, list[int]] = {}
    for endpoint in slice_["endpoints"]:
        for port in slice_["ports"]:
            for address in endpoint["addresses"]:
                target = {"__address__": f"{address}:{port['port']}" if port["port"] is not None else address}
                if port.get("name") is not None:
                    target[f"{META}endpointslice_port_name"] = port["name"]
                if port.get("protocol") is not None:
                    target[f"{META}endpointslice_port_protocol"] = port["protocol"]
                if port["port"] is not None:
                    target[f"{META}endpointslice_port"] = str(port["port"])
                if port.get("appProtocol") is not None:
                    target[f"{META}endpointslice_port_app_protocol"] = port["appProtocol"]
                conditions = endpoint.get("conditions", {})
                for condition in ("ready", "serving", "terminating"):
                    if condition in conditions:
                        target[f"{META}endpointslice_endpoint_conditions_{condition}"] = str(
                            conditions[condition]).lower()
                if endpoint.get("hostname") is not None:
                    target[f"{META}endpointslice_endpoint_hostname"] = endpoint["hostname"]
                ref = endpoint.get("targetRef")
                if ref:
                    target[f"{META}endpointslice_address_target_kind"] = ref.get("kind", "")
                    target[f"{META}endpointslice_address_target_name"] = ref.get("name", "")
                if endpoint.get("nodeName") is not None:
                    target[f"{META}endpointslice_endpoint_node_name"] = endpoint["nodeName"]
                if endpoint.get("zone") is not None:
                    target[f"{META}endpointslice_endpoint_zone"] = endpoint["zone"]
                pod = cluster.find_pod(ref["name"]) if ref and ref.get("kind") == "Pod" else None
                if pod is None:
                    targets.append({**group, **target})
                    continue
                target.update(_pod_labels(pod))
                # As Prometheus does: the last container declaring the port number wins.
                for container, is_init in _containers(pod):
                    for cport in container.get("ports") or []:
                        if port["port"] is not None and cport["containerPort"] == port["port"]:
                            target.update(_container_port_labels(container, cport, is_init))
                            break
                seen.setdefault(pod["metadata"]["name"], []).append(port["port"])
                targets.append({**group, **target})
    # Container ports no slice port covers still become targets, without slice port labels.
    for pod_name, covered in seen.items():
        pod = cluster.pod(pod_name)
        if not pod.get("status", {}).get("podIP"):
            continue
        for container, is_init in _containers(pod):
            for port in container.get("ports") or []:
                if port["containerPort"] in covered:
                    continue
                targets.append({**group,
                                "__address__": f"{pod['status']['podIP']}:{port['containerPort']}",
                                **_container_port_labels(container, port, is_init),
                                **_pod_labels(pod)})
    return targets


def file_sd_groups(cluster: Cluster, namespaces: list[str]) -> list[dict]:
    """All targets the endpointslice role discovers in `namespaces`, as file_sd target groups."""
    groups = []
    for slice_ in cluster.endpoint_slices:
        if slice_["metadata"]["namespace"] in namespaces:
            for target in endpoint_slice_targets(cluster, slice_):
                address = target.pop("__address__")
                groups.append({"targets": [address], "labels": target})
    return groups


def with_file_sd(config: dict, sd_dir: Path, self_address: str) -> tuple[dict, dict[Path, list[str]]]:
    """The rendered prometheus.yml with each kubernetes_sd_configs block replaced by file_sd_configs
    (one file per block, in sd_dir) and the self-scrape target moved to where the test runs it.
    Also returns each file's namespaces: the discovery scope of the block it replaces."""
    config = copy.deepcopy(config)
    files = {}
    for job in config["scrape_configs"]:
        blocks = job.pop("kubernetes_sd_configs", None)
        if blocks is not None:
            job["file_sd_configs"] = []
            for i, block in enumerate(blocks):
                assert block["role"] == "endpointslice", block
                path = sd_dir / f"{job['job_name']}-{i}.json"
                files[path] = block["namespaces"]["names"]
                job["file_sd_configs"].append({"files": [str(path)]})
        for static in job.get("static_configs", []):
            assert static["targets"] == ["localhost:9090"], static
            static["targets"] = [self_address]
    return config, files


# --- a copy of the ConfigMap that runs faster -------------------------------------------------------

# The interval of the proof's copy of the ConfigMap: at the stacks' 30s, the proof would wait
# minutes for two samples of each target.
PROOF_INTERVAL = "1s"


def with_interval(config_map_data: dict[str, str], interval: str) -> dict[str, str]:
    """The ConfigMap's files with every scrape and evaluation interval, and every scrape timeout
    present, set to `interval`; the rule files and every other key as rendered."""
    config = yaml.safe_load(config_map_data["prometheus.yml"])
    settings = config.setdefault("global", {})
    settings["scrape_interval"] = settings["evaluation_interval"] = interval
    for section in [settings] + list(config.get("scrape_configs") or []):
        for key in ("scrape_interval", "scrape_timeout"):
            if key in section:
                section[key] = interval
    return {**config_map_data, "prometheus.yml": yaml.safe_dump(config, sort_keys=False)}


def _differences(path: str, before, after) -> Iterator[tuple[str, str]]:
    """(path, what changed) for every leaf where `after` differs from `before`."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                yield where, f"removed (was {before[key]!r})"
            elif key not in before:
                yield where, f"added ({after[key]!r})"
            else:
                yield from _differences(where, before[key], after[key])
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (b, a) in enumerate(zip(before, after)):
            yield from _differences(f"{path}[{index}]", b, a)
    elif before != after or type(before) is not type(after):
        yield path, f"{before!r} -> {after!r}"


def _is_timing_key(path: str) -> bool:
    return bool(re.fullmatch(r"global\.(scrape_interval|scrape_timeout|evaluation_interval)"
                             r"|scrape_configs\[\d+\]\.(scrape_interval|scrape_timeout)", path))


def timing_differences(rendered: dict[str, str], copy_: dict[str, str]) -> tuple[list[str], list[str]]:
    """How `copy_` differs from the `rendered` ConfigMap files: (changes of timing keys of
    prometheus.yml, every other change), each sorted. Files are compared as the YAML documents
    they hold."""
    timing, other = [], []
    for name in sorted(set(rendered) | set(copy_)):
        if name not in copy_:
            other.append(f"{name}: missing")
        elif name not in rendered:
            other.append(f"{name}: added")
        else:
            for path, change in _differences("", yaml.safe_load(rendered[name]), yaml.safe_load(copy_[name])):
                line = f"{name}: {path}: {change}"
                (timing if name == "prometheus.yml" and _is_timing_key(path) else other).append(line)
    return sorted(timing), sorted(other)


# --- the apps: /metrics servers with the metric names the real apps export ---------------------------

class AppMetrics:
    """The exposition of one app pod; every scrape adds traffic, as a live app would have had.

    Per scrape: 9 successful requests and 1 server error (api-node labels status "500",
    core-go "Internal Server Error"), so the 5xx ratio is exactly 0.1; the worker finishes 3 jobs.
    Counters start high so that rate()'s extrapolation never clamps them at zero."""

    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

    def __init__(self, app: str):
        self.app = app
        self.scrapes = 0
        self.lock = threading.Lock()

    def render(self) -> str:
        with self.lock:
            self.scrapes += 1
            n = 10_000 + self.scrapes
        if self.app == "api-node":
            return self._http(n, ok="200", error="500", status_on_histogram=True) + _process(n)
        if self.app == "core-go":
            return self._http(n, ok="OK", error="Internal Server Error", status_on_histogram=False) + (
                "# HELP go_goroutines Number of goroutines that currently exist.\n"
                "# TYPE go_goroutines gauge\ngo_goroutines 9\n") + _process(n)
        if self.app == "worker-python":
            return ("# HELP worker_jobs_processed_total Total background jobs processed\n"
                    "# TYPE worker_jobs_processed_total counter\n"
                    f"worker_jobs_processed_total {3 * n}.0\n"
                    "# HELP worker_jobs_processed_created Total background jobs processed\n"
                    "# TYPE worker_jobs_processed_created gauge\n"
                    "worker_jobs_processed_created 1.7e+09\n") + _process(n)
        return "# HELP toolbox_up A process that is not one of the platform's apps.\n# TYPE toolbox_up gauge\ntoolbox_up 1\n"

    def _http(self, n: int, ok: str, error: str, status_on_histogram: bool) -> str:
        lines = ["# HELP http_requests_total Total number of HTTP requests",
                 "# TYPE http_requests_total counter"]
        for status, count in ((ok, 9 * n), (error, n)):
            lines.append(f'http_requests_total{{method="GET",path="/info",status="{status}"}} {count}')
        lines += ["# HELP http_request_duration_seconds HTTP request latency",
                  "# TYPE http_request_duration_seconds histogram"]
        status = f',status="{ok}"' if status_on_histogram else ""
        # Every request takes between 0.05s and 0.1s.
        for le in self.BUCKETS:
            lines.append(f'http_request_duration_seconds_bucket{{method="GET",path="/info"{status},'
                         f'le="{le}"}} {10 * n if le >= 0.1 else 0}')
        lines.append(f'http_request_duration_seconds_bucket{{method="GET",path="/info"{status},le="+Inf"}} {10 * n}')
        lines.append(f'http_request_duration_seconds_sum{{method="GET",path="/info"{status}}} {0.075 * 10 * n}')
        lines.append(f'http_request_duration_seconds_count{{method="GET",path="/info"{status}}} {10 * n}')
        return "\n".join(lines) + "\n"


def _process(n: int) -> str:
    return ("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {n / 100}\n")


class _Handler(BaseHTTPRequestHandler):
    metrics: AppMetrics

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = self.server.metrics.render().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def metrics_server(ip: str, app: str) -> Iterator[ThreadingHTTPServer]:
    """A /metrics server of `app` on a free port of `ip`, stopped on exit."""
    server = ThreadingHTTPServer((ip, 0), _Handler)
    server.metrics = AppMetrics(app)
    # A short poll interval: shutdown() waits for the serving loop to notice, by default up to 0.5s.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{app}@{ip}",
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the stand-in cluster --------------------------------------------------------------------------

@dataclass
class Decoy:
    """A pod discovery finds that must not become a target, and why."""

    pod: str
    reason: str


def _decoy_service(name: str, labels: dict, namespace: str) -> tuple[dict, dict]:
    """A Service with a port named metrics and a Deployment behind it."""
    selector = {"app": name}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "spec": {"selector": selector, "ports": [{"name": "metrics", "port": 9100, "targetPort": "metrics"}]}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": name, "namespace": namespace},
                  "spec": {"template": {"metadata": {"labels": {**labels, **selector}},
                                        "spec": {"containers": [{"name": name, "image": f"example/{name}:1.0",
                                                                 "ports": [{"name": "metrics",
                                                                            "containerPort": 9100}]}]}}}}
    return service, deployment


@contextmanager
def stand_in_cluster(chart_manifests: dict[str, list[dict]], namespace: str
                     ) -> Iterator[tuple[Cluster, list[Decoy]]]:
    """Pods (each container port served on 127.0.0.x) and EndpointSlices for the charts'
    Deployments and Services, plus decoys: pods discovery sees that must not be scraped."""
    cluster = Cluster(namespace)
    decoys: list[Decoy] = []
    addresses = (f"127.0.0.{i}" for i in range(2, 255))
    workloads: list[tuple[dict, str, str]] = []  # deployment, app, phase
    for app, manifests in sorted(chart_manifests.items()):
        for obj in manifests:
            if obj["kind"] == "Service":
                cluster.services.append(obj)
            elif obj["kind"] == "Deployment":
                for _ in range(obj["spec"].get("replicas", 1)):
                    workloads.append((obj, app, "Running"))
    # A new api-node pod still starting: it has its address and is in the slice (not ready).
    api_node = next(obj for obj, app, _ in workloads if app == "api-node")
    workloads.append((api_node, "api-node", "Pending"))
    # Services in the same namespace that are not the platform's apps, each with a metrics port.
    stranger, stranger_deployment = _decoy_service(
        "core-go-debug", {"app.kubernetes.io/name": "core-go"}, namespace)
    toolbox, toolbox_deployment = _decoy_service(
        "toolbox", {"app.kubernetes.io/name": "toolbox", "app.kubernetes.io/part-of": "platform-ops"}, namespace)
    cluster.services += [stranger, toolbox]
    workloads += [(stranger_deployment, "core-go-debug", "Running"), (toolbox_deployment, "toolbox", "Running")]

    with ExitStack() as stack:
        for index, (deployment, app, phase) in enumerate(workloads):
            ip = next(addresses)
            servers: dict[int, int] = {}

            def port_for(port: dict, ip=ip, app=app, servers=servers) -> int:
                server = stack.enter_context(metrics_server(ip, app))
                servers[port["containerPort"]] = server.server_address[1]
                return server.server_address[1]

            pod = pod_from_template(deployment, namespace, ip, port_for, phase=phase, index=index)
            cluster.pods.append(pod)
            name = pod["metadata"]["name"]
            if phase != "Running":
                decoys.append(Decoy(name, f"{app} pod in phase {phase}"))
            elif app == "core-go-debug":
                decoys.append(Decoy(name, "Service not part-of platform-ops"))
            elif app == "toolbox":
                decoys.append(Decoy(name, "Service of an app that is not the platform's"))
        for service in cluster.services:
            cluster.endpoint_slices += endpoint_slices(service, cluster.pods)
        yield cluster, decoys


# --- Prometheus -----------------------------------------------------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PrometheusProcess:
    """A prometheus server on loopback with its own TSDB; `stop` always ends it."""

    def __init__(self, binary: str, config_file: Path, workdir: Path, port: int, extra_args: tuple[str, ...] = ()):
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        self.started_at = time.monotonic()
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def get(self, path: str, **params) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            return json.load(response)

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=10) as response:
            return response.status == 200

    def targets(self) -> dict:
        return self.get("/api/v1/targets")["data"]

    def query(self, promql: str) -> list[dict]:
        return self.get("/api/v1/query", query=promql)["data"]["result"]

    def wait_for(self, what: str, check: Callable[[], object], timeout: float, pause: float = 0.05):
        """Poll `check` until it returns something truthy; give up after `timeout` seconds."""
        last_error = None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.process.returncode} while waiting for "
                                     f"{what}:\n{self.log()[-3000:]}")
            try:
                result = check()
                if result:
                    return result
            except (urllib.error.URLError, ConnectionError, KeyError) as error:
                last_error = error
            if time.monotonic() >= deadline:
                break
            time.sleep(pause)
        raise AssertionError(f"gave up waiting for {what} after {timeout:g}s (last error: {last_error}):\n"
                             f"{self.log()[-3000:]}")


@dataclass
class DiscoveryRun:
    prometheus: PrometheusProcess
    cluster: Cluster
    decoys: list[Decoy]
    config: dict
    # Targets Prometheus is offered: every file_sd target and every static one.
    offered: int

    def targets_once_all_processed(self) -> dict | None:
        """/api/v1/targets once the scrape manager holds every offered target, kept (active) or
        dropped by relabeling; None before."""
        targets = self.prometheus.targets()
        processed = len(targets["activeTargets"]) + len(targets["droppedTargets"])
        assert processed <= self.offered, f"{processed} targets processed, {self.offered} offered"
        return targets if processed == self.offered else None

    def targets_once_all_up(self) -> dict | None:
        """/api/v1/targets once every offered target is kept or dropped and every kept one has
        been scraped and is up; None before."""
        targets = self.targets_once_all_processed()
        return targets if targets and all(t["health"] == "up" for t in targets["activeTargets"]) else None


@contextmanager
def discovery_run(prometheus_binary: str, config_map_data: dict[str, str], chart_manifests: dict[str, list[dict]],
                  namespace: str, workdir: Path, discovery_reload_interval: str | None = None
                  ) -> Iterator[DiscoveryRun]:
    """Prometheus running the ConfigMap's files against the stand-in cluster; everything it
    started is stopped on exit, whatever happened.

    `discovery_reload_interval` sets how often the scrape manager takes discovered targets
    (--scrape.discovery-reload-interval, 5s by default): a run with a short scrape interval needs
    it as short, or it waits 5s for its first targets."""
    config = yaml.safe_load(config_map_data["prometheus.yml"])
    sd_dir = workdir / "sd"
    sd_dir.mkdir(parents=True, exist_ok=True)
    with stand_in_cluster(chart_manifests, namespace) as (cluster, decoys):
        port = free_port()
        config, sd_files = with_file_sd(config, sd_dir, f"127.0.0.1:{port}")
        offered = sum(len(static["targets"]) for job in config["scrape_configs"]
                      for static in job.get("static_configs", []))
        for path, namespaces in sd_files.items():
            groups = file_sd_groups(cluster, namespaces)
            offered += sum(len(g["targets"]) for g in groups)
            path.write_text(json.dumps(groups, indent=1, sort_keys=True))
        for name, text in config_map_data.items():
            (workdir / name).write_text(text)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        extra_args = () if discovery_reload_interval is None else (
            f"--scrape.discovery-reload-interval={discovery_reload_interval}",)
        prometheus = PrometheusProcess(prometheus_binary, config_file, workdir, port, extra_args)
        try:
            yield DiscoveryRun(prometheus, cluster, decoys, config, offered)
        finally:
            prometheus.stop()


@contextmanager
def proof_run(prometheus_binary: str, config_map_data: dict[str, str], chart_manifests: dict[str, list[dict]],
              namespace: str, workdir: Path, interval: str = PROOF_INTERVAL) -> Iterator[DiscoveryRun]:
    """`discovery_run` of the ConfigMap's files with every interval set to `interval`
    (`with_interval`), the scrape manager taking discovered targets as often."""
    with discovery_run(prometheus_binary, with_interval(config_map_data, interval), chart_manifests, namespace,
                       workdir, discovery_reload_interval=interval) as run:
        yield run
