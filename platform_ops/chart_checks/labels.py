"""Labels, the discovery contract, Service wiring and the Ingress."""
from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlsplit

from platform_ops.chart_checks.manifests import container_port_names, of_kind, pod_labels, pod_spec, ref, selects
from platform_ops.contract import METRICS_PORT_NAME, PART_OF

HTTP_APPS = ("api-node", "core-go")
CONTRACT_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")


def check_labels(manifests: Iterable[dict], service: str, release: str) -> list[str]:
    """Discovery-contract labels on every object and pod; selectors use only name and instance."""
    manifests = list(manifests)
    expected = {"app.kubernetes.io/name": service, "app.kubernetes.io/instance": release,
                "app.kubernetes.io/part-of": PART_OF}
    problems = []

    def labelled(where: str, labels: dict) -> None:
        missing = [k for k in CONTRACT_LABELS if not labels.get(k)]
        if missing:
            problems.append(f"{where}: missing labels {', '.join(missing)}")
        for key, value in expected.items():
            if key in labels and labels[key] != value:
                problems.append(f"{where}: label {key} is {labels[key]!r}, expected {value!r}")

    for obj in manifests:
        labelled(ref(obj), obj.get("metadata", {}).get("labels") or {})
    selector_expected = {k: expected[k] for k in SELECTOR_LABELS}
    for workload in of_kind(manifests, "Deployment"):
        labelled(f"{ref(workload)}: pod template", pod_labels(workload))
        selector = workload.get("spec", {}).get("selector", {}).get("matchLabels")
        if selector != selector_expected:
            problems.append(f"{ref(workload)}: selector must be exactly {selector_expected}, got {selector}")
    for svc in of_kind(manifests, "Service"):
        if svc.get("spec", {}).get("selector") != selector_expected:
            problems.append(f"{ref(svc)}: selector must be exactly {selector_expected}, "
                            f"got {svc.get('spec', {}).get('selector')}")
    return problems


def check_service_wiring(manifests: Iterable[dict], service: str) -> list[str]:
    """Services select the pods and target named container ports, per the discovery contract
    (check_ports_resolve checks that a container declares them)."""
    manifests = list(manifests)
    problems = []
    workloads = of_kind(manifests, "Deployment")
    services = of_kind(manifests, "Service")
    if not services:
        problems.append(f"{service}: no Service")
    for svc in services:
        spec = svc.get("spec", {})
        backing = [w for w in workloads if selects(spec.get("selector"), pod_labels(w))]
        if spec.get("type", "ClusterIP") != "ClusterIP":
            problems.append(f"{ref(svc)}: type must be ClusterIP")
        if not backing:
            problems.append(f"{ref(svc)}: selector {spec.get('selector')} matches no pod template")
            continue
        declared = container_port_names(pod_spec(backing[0]))
        ports = {}
        for port in spec.get("ports") or []:
            ports[port.get("name")] = port.get("targetPort")
            target = port.get("targetPort")
            if not isinstance(target, str):
                problems.append(f"{ref(svc)}: port {port.get('name')} targetPort {target!r} "
                                f"is not a named container port ({', '.join(sorted(declared))})")
        wanted = {"metrics": METRICS_PORT_NAME}
        if service in HTTP_APPS:
            wanted["http"] = "http"
        for name, target in wanted.items():
            if ports.get(name, None) != target:
                problems.append(f"{ref(svc)}: port {name} must target container port {target!r} "
                                f"(discovery contract), got {ports.get(name)!r}")
    return problems


def _reaches_metrics(service: dict, port: dict, workloads: list[dict]) -> str | None:
    """Why a Service port reaches the metrics container port of the pods it selects, or None."""
    if port.get("name") == METRICS_PORT_NAME:
        return "it is the Service's metrics port"
    # Without a targetPort, Kubernetes sends the traffic to the same number as the port.
    target = port.get("targetPort", port.get("port"))
    for workload in (w for w in workloads if selects(service["spec"].get("selector"), pod_labels(w))):
        metrics = container_port_names(pod_spec(workload)).get(METRICS_PORT_NAME)
        if metrics is not None and target in (METRICS_PORT_NAME, metrics):
            return f"its targetPort {target!r} is container port {METRICS_PORT_NAME} ({metrics}) of {ref(workload)}"
    return None


def check_ingress(manifests: Iterable[dict]) -> list[str]:
    """Each Ingress has a class and TLS for its hosts, and its backends are Service ports of the chart
    that do not reach a metrics port: /metrics is for Prometheus inside the cluster only."""
    manifests = list(manifests)
    problems = []
    services = {s["metadata"]["name"]: s for s in of_kind(manifests, "Service")}
    workloads = of_kind(manifests, "Deployment")
    for ing in of_kind(manifests, "Ingress"):
        spec = ing.get("spec", {})
        if not spec.get("ingressClassName"):
            problems.append(f"{ref(ing)}: ingressClassName must be set")
        tls_hosts = {h for t in spec.get("tls") or [] if t.get("secretName") for h in t.get("hosts") or []}
        backends = []
        for rule in spec.get("rules") or []:
            if rule.get("host") not in tls_hosts:
                problems.append(f"{ref(ing)}: host {rule.get('host')} has no TLS secret")
            backends += [p.get("backend", {}).get("service", {}) for p in (rule.get("http") or {}).get("paths") or []]
        if spec.get("defaultBackend"):
            backends.append(spec["defaultBackend"].get("service", {}))
        for backend in backends:
            name, port = backend.get("name"), backend.get("port") or {}
            svc = services.get(name)
            if svc is None:
                problems.append(f"{ref(ing)}: backend Service {name} does not exist")
                continue
            shown = port.get("name") or port.get("number")
            # A backend names its Service port either by name or by number.
            matching = [p for p in svc["spec"].get("ports") or []
                        if (p.get("name") == port["name"] if "name" in port else p.get("port") == port.get("number"))]
            if not matching:
                problems.append(f"{ref(ing)}: backend Service {name} has no port {shown}")
                continue
            why = _reaches_metrics(svc, matching[0], workloads)
            if why is not None:
                problems.append(f"{ref(ing)}: backend Service {name} port {shown} reaches /metrics ({why}); "
                                f"no Ingress may route a metrics port")
    return problems


def env_value(workload: dict, variable: str) -> Any:
    for c in pod_spec(workload).get("containers") or []:
        for env in c.get("env") or []:
            if env.get("name") == variable:
                return env.get("value")
    return None


def check_core_go_url(api_manifests: Iterable[dict], core_manifests: Iterable[dict], namespace: str) -> list[str]:
    """api-node's CORE_GO_BASE_URL is the core-go Service's http port, in the same namespace."""
    api_manifests, core_manifests = list(api_manifests), list(core_manifests)
    problems = []
    core_services = of_kind(core_manifests, "Service")
    for workload in of_kind(api_manifests, "Deployment"):
        url = env_value(workload, "CORE_GO_BASE_URL")
        if not url:
            problems.append(f"{ref(workload)}: CORE_GO_BASE_URL is not set")
            continue
        parts = urlsplit(url)
        host = parts.hostname or ""
        name, _, rest = host.partition(".")
        allowed_suffixes = ("", namespace, f"{namespace}.svc", f"{namespace}.svc.cluster.local")
        target = next((s for s in core_services if s["metadata"]["name"] == name), None)
        if parts.scheme != "http" or rest not in allowed_suffixes or target is None:
            problems.append(f"{ref(workload)}: CORE_GO_BASE_URL {url} does not name the core-go Service "
                            f"in namespace {namespace} "
                            f"(Services: {', '.join(s['metadata']['name'] for s in core_services) or 'none'})")
            continue
        port = parts.port or 80
        http = [p for p in target["spec"].get("ports") or [] if p.get("name") == "http"]
        if not http or http[0].get("port") != port:
            problems.append(f"{ref(workload)}: CORE_GO_BASE_URL {url} uses port {port}, but {ref(target)} serves "
                            f"http on {http[0].get('port') if http else 'no port'}")
    return problems
