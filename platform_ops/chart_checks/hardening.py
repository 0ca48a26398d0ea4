"""Hardening beyond Pod Security: containers, rollout, resources, probes."""
from __future__ import annotations

from typing import Iterable

from platform_ops.chart_checks.manifests import of_kind, pod_spec, ref
from platform_ops.quantity import parse_quantity
from platform_ops.contract import APP_RUN_AS_ID

def check_container_hardening(manifests: Iterable[dict]) -> list[str]:
    """Read-only root with a /tmp emptyDir, the images' UID/GID, no API token, pinned pulls."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext") or {}
        say = lambda msg: problems.append(f"{ref(workload)}: {msg}")  # noqa: E731
        if spec.get("automountServiceAccountToken") is not False:
            say("automountServiceAccountToken must be false")
        for field in ("runAsUser", "runAsGroup"):
            if pod_sc.get(field) != APP_RUN_AS_ID:
                say(f"securityContext.{field} must be {APP_RUN_AS_ID}")
        if not spec.get("imagePullSecrets"):
            say("imagePullSecrets must name the registry secret")
        empty_dirs = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
        for c in spec.get("containers") or []:
            sc = c.get("securityContext") or {}
            cname = f"container {c.get('name')}"
            if sc.get("readOnlyRootFilesystem") is not True:
                say(f"{cname}: securityContext.readOnlyRootFilesystem must be true")
            mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            if mounts.get("/tmp") not in empty_dirs:
                say(f"{cname}: /tmp must be an emptyDir volume mount")
            if c.get("imagePullPolicy") != "IfNotPresent":
                say(f"{cname}: imagePullPolicy must be IfNotPresent")
    for account in of_kind(manifests, "ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            problems.append(f"{ref(account)}: automountServiceAccountToken must be false")
    return problems


def check_rollout(manifests: Iterable[dict]) -> list[str]:
    """Rolling updates never reduce ready capacity, keep history, and give pods time to stop."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        spec = workload.get("spec", {})
        say = lambda msg: problems.append(f"{ref(workload)}: {msg}")  # noqa: E731
        strategy = spec.get("strategy") or {}
        if strategy.get("type") != "RollingUpdate" or (strategy.get("rollingUpdate") or {}).get("maxUnavailable") != 0:
            say("strategy must be RollingUpdate with maxUnavailable 0")
        if not isinstance(spec.get("revisionHistoryLimit"), int):
            say("revisionHistoryLimit must be set")
        if not isinstance(pod_spec(workload).get("terminationGracePeriodSeconds"), int):
            say("terminationGracePeriodSeconds must be set")
    return problems


def check_resources(manifests: Iterable[dict]) -> list[str]:
    """Every container requests CPU and memory and has a memory limit no lower than its request."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        for c in pod_spec(workload).get("containers") or []:
            where = f"{ref(workload)}: container {c.get('name')}"
            resources = c.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            missing = [f"requests.{k}" for k in ("cpu", "memory") if k not in requests]
            missing += ["limits.memory"] if "memory" not in limits else []
            if missing:
                problems.append(f"{where}: resources must set {', '.join(missing)}")
            elif parse_quantity(limits["memory"]) < parse_quantity(requests["memory"]):
                problems.append(f"{where}: limits.memory {limits['memory']} is below requests.memory {requests['memory']}")
    return problems


def check_probes(manifests: Iterable[dict]) -> list[str]:
    """Liveness and readiness are HTTP GETs on a named port (check_ports_resolve checks that the
    container declares it)."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        spec = pod_spec(workload)
        for c in spec.get("containers") or []:
            where = f"{ref(workload)}: container {c.get('name')}"
            for probe in ("livenessProbe", "readinessProbe"):
                get = (c.get(probe) or {}).get("httpGet")
                if not get:
                    problems.append(f"{where}: {probe} must be an httpGet probe")
                elif not isinstance(get.get("port"), str):
                    problems.append(f"{where}: {probe} port {get.get('port')!r} is not a named container port")
    return problems
