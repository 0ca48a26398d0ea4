"""Ports: what each app listens on, and what probes and Services aim at."""
from __future__ import annotations

from typing import Iterable

from platform_ops.chart_checks.manifests import of_kind, pod_labels, pod_spec, ref, selects

# The charts tell each app the port to listen on through these variables, and declare that port
# under this name (values.yaml): probes, Services and NetworkPolicies aim at the name, so a
# number that differs from the variable sends them to a port nothing listens on.
LISTEN_PORT_VARIABLES = {"PORT": "http", "METRICS_PORT": "metrics"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
PROBE_HANDLERS_WITH_PORT = ("httpGet", "tcpSocket", "grpc")


def declared_ports(container: dict) -> str:
    """The container's ports as `name=number` (a bare number when unnamed), for messages."""
    ports = [f"{p['name']}={p.get('containerPort')}" if p.get("name") else str(p.get("containerPort"))
             for p in container.get("ports") or []]
    return ", ".join(ports) or "none"


def declares(container: dict, port: int | str) -> bool:
    """A port name is declared when a port of the container has that name, a number when it is a
    containerPort of the container."""
    key = "name" if isinstance(port, str) else "containerPort"
    return any(p.get(key) == port for p in container.get("ports") or [])


def check_listen_ports(manifests: Iterable[dict]) -> list[str]:
    """Each app container declares the port its environment tells it to listen on (PORT,
    METRICS_PORT), under the name the charts give that port."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        for c in pod_spec(workload).get("containers") or []:
            where = f"{ref(workload)}: container {c.get('name')}"
            port_numbers = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            for env in c.get("env") or []:
                port_name = LISTEN_PORT_VARIABLES.get(env.get("name"))
                if port_name is None:
                    continue
                if "value" not in env:
                    # A number read at run time (valueFrom) cannot be compared with the port here.
                    problems.append(f"{where}: {env['name']} must be a literal value to compare with port {port_name}")
                    continue
                listens = f"listens on {env['name']}={env['value']}"
                if port_name not in port_numbers:
                    problems.append(f"{where}: {listens} but declares no port {port_name}")
                elif str(port_numbers[port_name]) != env["value"]:
                    problems.append(f"{where}: {listens} but declares port {port_name} "
                                    f"as containerPort {port_numbers[port_name]}")
    return problems


def check_ports_resolve(manifests: Iterable[dict]) -> list[str]:
    """Every probe port (httpGet, tcpSocket, grpc; named or numeric) is a port its container
    declares, and every Service targetPort a port a container of each selected pod declares:
    else the probe fails and restarts the pod, or the Service sends traffic nowhere."""
    manifests = list(manifests)
    problems = []
    workloads = of_kind(manifests, "Deployment")
    for workload in workloads:
        for c in pod_spec(workload).get("containers") or []:
            for probe in PROBES:
                for handler in PROBE_HANDLERS_WITH_PORT:
                    port = ((c.get(probe) or {}).get(handler) or {}).get("port")
                    if port is not None and not declares(c, port):
                        problems.append(f"{ref(workload)}: container {c.get('name')}: {probe} {handler} port "
                                        f"{port!r} is not a port the container declares ({declared_ports(c)})")
    for svc in of_kind(manifests, "Service"):
        spec = svc.get("spec", {})
        for workload in (w for w in workloads if selects(spec.get("selector"), pod_labels(w))):
            containers = pod_spec(workload).get("containers") or []
            for port in spec.get("ports") or []:
                # Without a targetPort, Kubernetes sends the traffic to the same number as the port.
                target = port.get("targetPort", port.get("port"))
                if not any(declares(c, target) for c in containers):
                    offered = "; ".join(f"container {c.get('name')}: {declared_ports(c)}" for c in containers)
                    problems.append(f"{ref(svc)}: port {port.get('name')} targetPort {target!r} is not declared "
                                    f"by a container of {ref(workload)} ({offered})")
    return problems


def check_high_availability(manifests: Iterable[dict]) -> list[str]:
    """With more than one replica: a PodDisruptionBudget and a topology spread over the pods."""
    manifests = list(manifests)
    problems = []
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for workload in of_kind(manifests, "Deployment"):
        labels = pod_labels(workload)
        replicas = workload.get("spec", {}).get("replicas", 1)
        covering = [b for b in budgets if selects(b.get("spec", {}).get("selector", {}).get("matchLabels"), labels)]
        spreads = [t for t in pod_spec(workload).get("topologySpreadConstraints") or []
                   if selects((t.get("labelSelector") or {}).get("matchLabels"), labels)]
        if replicas > 1 and not covering:
            problems.append(f"{ref(workload)}: {replicas} replicas but no PodDisruptionBudget selects its pods")
        if replicas > 1 and not spreads:
            problems.append(f"{ref(workload)}: {replicas} replicas but no topologySpreadConstraint spreads its pods")
        if replicas <= 1 and covering:
            problems.append(f"{ref(workload)}: a single replica must not have a PodDisruptionBudget "
                            f"({ref(covering[0])} would block node drains)")
    return problems
