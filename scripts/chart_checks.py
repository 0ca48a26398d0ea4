"""Checks on the rendered manifests of the platform's charts.

Each check is a plain function over parsed manifests that returns a list of problems (empty when
the render is fine), so tests can feed it a broken manifest and compare the exact message, and
scripts/check_charts.py can print them all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import kubernetes_validate

KUBE_VERSION = "1.37.0"
PART_OF = "platform-ops"
RUN_AS_ID = 65532
APPS = ("api-node", "core-go", "worker-python")
# Discovery contract: the container port behind each app's Service port "metrics".
METRICS_CONTAINER_PORT = {"api-node": "http", "core-go": "http", "worker-python": "metrics"}
HTTP_APPS = ("api-node", "core-go")
# The charts tell each app the port to listen on through these variables, and declare that port
# under this name (values.yaml): probes, Services and NetworkPolicies aim at the name, so a
# number that differs from the variable sends them to a port nothing listens on.
LISTEN_PORT_VARIABLES = {"PORT": "http", "METRICS_PORT": "metrics"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
PROBE_HANDLERS_WITH_PORT = ("httpGet", "tcpSocket", "grpc")
CONTRACT_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
INGRESS_CONTROLLER_NAMESPACE = "nginx-ingress"
PROMETHEUS_NAMESPACE = "observability"
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
# Functions whose output changes between two renders, or depends on the cluster: Argo CD would
# see a diff on every refresh (or render differently from these tests).
NON_DETERMINISTIC_FUNCTIONS = (
    "randAlphaNum", "randAlpha", "randNumeric", "randAscii", "randBytes", "randInt", "shuffle",
    "now", "lookup", "genCA", "genCAWithKey",
    "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
    "genPrivateKey", "uuidv4", "htpasswd", "bcrypt",
)
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
}
BASELINE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}


# --- helpers ---------------------------------------------------------------------------------------

def ref(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(manifests: Iterable[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m.get("kind") == kind]


def pod_spec(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("spec", {}) or {}


def pod_labels(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}


def all_containers(spec: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def container_port_names(spec: dict) -> dict[str, int]:
    return {p["name"]: p.get("containerPort") for c in spec.get("containers") or []
            for p in c.get("ports") or [] if "name" in p}


def selects(match_labels: dict | None, labels: dict) -> bool:
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def parse_quantity(value: Any) -> float:
    """CPU or memory quantity as a number (cores or bytes)."""
    text = str(value)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


# --- Kubernetes API schema ---------------------------------------------------------------------------

def check_kubernetes_schema(manifests: Iterable[dict], version: str = KUBE_VERSION) -> list[str]:
    """Every object is valid against the strict (unknown fields rejected) schema of Kubernetes `version`."""
    problems = []
    for obj in manifests:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path) or "<root>"
            problems.append(f"{ref(obj)}: {where}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            problems.append(f"{ref(obj)}: {err.message}")
    return problems


# --- Pod Security Standards, restricted level ----------------------------------------------------------

def check_pod_security_restricted(manifests: Iterable[dict]) -> list[str]:
    """The pod templates meet the Pod Security Standards' restricted level (which includes baseline)."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext") or {}
        say = lambda msg, where=ref(workload): problems.append(f"{where}: {msg}")  # noqa: E731
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                say(f"{field} must not be true")
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= RESTRICTED_VOLUME_TYPES:
                say(f"volume {volume.get('name')} has type {', '.join(sorted(kinds - RESTRICTED_VOLUME_TYPES))}, "
                    f"not allowed by the restricted level")
        for sysctl in pod_sc.get("sysctls") or []:
            if sysctl.get("name") not in BASELINE_SYSCTLS:
                say(f"sysctl {sysctl.get('name')} is not allowed")
        if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
            say("windowsOptions.hostProcess must not be true")
        for problem in _apparmor_selinux(pod_sc):
            say(f"securityContext.{problem}")
        pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
        if pod_sc.get("runAsUser") == 0:
            say("securityContext.runAsUser must not be 0")
        if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
            say(f"securityContext.seccompProfile.type {pod_seccomp} is not allowed")
        for c in all_containers(spec):
            where = f"{ref(workload)}: container {c.get('name')}"
            sc = c.get("securityContext") or {}
            caps = sc.get("capabilities") or {}
            if sc.get("privileged"):
                say("privileged must not be true", where)
            if sc.get("allowPrivilegeEscalation") is not False:
                say("securityContext.allowPrivilegeEscalation must be false", where)
            if "ALL" not in (caps.get("drop") or []):
                say("securityContext.capabilities.drop must contain ALL", where)
            added = [cap for cap in caps.get("add") or [] if cap != "NET_BIND_SERVICE"]
            if added:
                say(f"securityContext.capabilities.add may only hold NET_BIND_SERVICE, not {', '.join(added)}", where)
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                say("runAsNonRoot must be true (in the container or the pod securityContext)", where)
            if sc.get("runAsUser") == 0:
                say("securityContext.runAsUser must not be 0", where)
            seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
            if seccomp not in ("RuntimeDefault", "Localhost"):
                say("seccompProfile.type must be RuntimeDefault or Localhost (in the container or the pod)", where)
            if sc.get("procMount", "Default") != "Default":
                say("securityContext.procMount must be Default", where)
            for problem in _apparmor_selinux(sc):
                say(f"securityContext.{problem}", where)
            for port in c.get("ports") or []:
                if port.get("hostPort"):
                    say(f"port {port.get('name', port.get('containerPort'))} must not set hostPort", where)
    return problems


def _apparmor_selinux(security_context: dict) -> list[str]:
    problems = []
    apparmor = (security_context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"appArmorProfile.type {apparmor} is not allowed")
    selinux = security_context.get("seLinuxOptions") or {}
    if selinux.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t",
                                   "container_engine_t"):
        problems.append(f"seLinuxOptions.type {selinux['type']} is not allowed")
    if selinux.get("user") or selinux.get("role"):
        problems.append("seLinuxOptions.user and .role must not be set")
    return problems


# --- hardening beyond Pod Security --------------------------------------------------------------------------

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
            if pod_sc.get(field) != RUN_AS_ID:
                say(f"securityContext.{field} must be {RUN_AS_ID}")
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


# --- ports: what the app listens on, and what probes and Services aim at ----------------------------------------

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


# --- labels and discovery contract -----------------------------------------------------------------------------

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
        wanted = {"metrics": METRICS_CONTAINER_PORT.get(service)}
        if service in HTTP_APPS:
            wanted["http"] = "http"
        for name, target in wanted.items():
            if ports.get(name, None) != target:
                problems.append(f"{ref(svc)}: port {name} must target container port {target!r} "
                                f"(discovery contract), got {ports.get(name)!r}")
    return problems


def check_ingress(manifests: Iterable[dict]) -> list[str]:
    """Each Ingress has a class and TLS for its hosts, and its backends are Service ports of the chart."""
    manifests = list(manifests)
    problems = []
    services = {s["metadata"]["name"]: s for s in of_kind(manifests, "Service")}
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
            names = {p.get("name") for p in svc["spec"].get("ports") or []}
            numbers = {p.get("port") for p in svc["spec"].get("ports") or []}
            if port.get("name") not in names and port.get("number") not in numbers:
                problems.append(f"{ref(ing)}: backend Service {name} has no port {port.get('name') or port.get('number')}")
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


# --- NetworkPolicies ----------------------------------------------------------------------------------------

Labels = frozenset  # frozenset of (key, value) pairs


@dataclass(frozen=True)
class Flow:
    """Traffic one NetworkPolicy peer admits on one port.

    namespace: None for the policy's own namespace, else the namespace selector's labels.
    pods: None for every pod (no pod selector), else the pod selector's labels.
    port: the container port's name (a number is translated to the name it belongs to).
    """

    namespace: Labels | None
    pods: Labels | None
    port: str

    def __str__(self) -> str:
        def text(labels: Labels | None, none: str) -> str:
            return none if labels is None else "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels)) + "}"
        return (f"pods {text(self.pods, 'any')} in namespaces {text(self.namespace, '(this one)')}"
                f" to port {self.port}")


def labels_of(selector: dict | None) -> Labels | None:
    return None if selector is None else frozenset((selector.get("matchLabels") or {}).items())


def expected_flows(service: str) -> list[tuple[Flow, str | None]]:
    """The flows the platform allows to `service`, each with the app whose pods are the client
    (None for a peer outside the platform's charts)."""
    prometheus = Flow(frozenset({(NAMESPACE_LABEL, PROMETHEUS_NAMESPACE)}), frozenset(PROMETHEUS_POD_LABELS.items()),
                      METRICS_CONTAINER_PORT[service])
    flows = [(prometheus, None)]
    if service == "api-node":
        flows.append((Flow(frozenset({(NAMESPACE_LABEL, INGRESS_CONTROLLER_NAMESPACE)}), None, "http"), None))
    if service == "core-go":
        flows.append((Flow(None, frozenset({("app.kubernetes.io/name", "api-node")}), "http"), "api-node"))
    return flows


def _matches(flow: Flow, want: Flow, client_pods: list[dict]) -> bool:
    """A peer matches an allowed flow when it is that flow, or (for a client app of the platform)
    that flow narrowed by more labels that the client's pods all carry."""
    if flow.namespace != want.namespace or flow.port != want.port:
        return False
    if flow.pods == want.pods:
        return True
    return (flow.pods is not None and want.pods is not None and want.pods <= flow.pods
            and any(flow.pods <= frozenset(labels.items()) for labels in client_pods))


def check_network_policies(renders: dict[str, list[dict]]) -> list[str]:
    """Per app: ingress is denied by default and the policies admit exactly the platform's flows:
    ingress controller to api-node http, api-node to core-go http, Prometheus to each metrics port.

    `renders` maps each app to its chart's manifests for one environment.
    """
    problems = []
    pods_of = {svc: [pod_labels(w) for w in of_kind(objs, "Deployment")] for svc, objs in renders.items()}
    for service, manifests in renders.items():
        for workload in of_kind(manifests, "Deployment"):
            selector = workload["spec"]["selector"]["matchLabels"]
            by_number = {str(num): name for name, num in container_port_names(pod_spec(workload)).items()}
            admitted: dict[Flow, str] = {}
            isolated = False
            for policy in of_kind(manifests, "NetworkPolicy"):
                spec = policy.get("spec", {})
                say = lambda msg: problems.append(f"{service}: {ref(policy)} {msg}")  # noqa: E731
                pod_selector = spec.get("podSelector") or {}
                if pod_selector.get("matchLabels") != selector or pod_selector.get("matchExpressions"):
                    say(f"podSelector must be exactly the pods' selector {selector}")
                    continue
                if "Ingress" not in (spec.get("policyTypes") or ["Ingress"]):
                    continue
                isolated = True
                for i, rule in enumerate(spec.get("ingress") or []):
                    if not rule.get("from"):
                        say(f"ingress rule {i} has no 'from': it admits every source")
                        continue
                    if not rule.get("ports"):
                        say(f"ingress rule {i} has no 'ports': it admits every port")
                        continue
                    for peer in rule["from"]:
                        if "ipBlock" in peer:
                            say(f"ingress rule {i} admits ipBlock {peer['ipBlock'].get('cidr')}")
                            continue
                        if any((peer.get(k) or {}).get("matchExpressions") for k in ("namespaceSelector", "podSelector")):
                            say(f"ingress rule {i} uses matchExpressions, which this check does not accept")
                            continue
                        for port in rule["ports"]:
                            if port.get("protocol", "TCP") != "TCP" or "endPort" in port or "port" not in port:
                                say(f"ingress rule {i} admits more than one TCP port: {port}")
                                continue
                            name = by_number.get(str(port["port"]), str(port["port"]))
                            flow = Flow(labels_of(peer.get("namespaceSelector")), labels_of(peer.get("podSelector")), name)
                            admitted.setdefault(flow, ref(policy))
            if not isolated:
                problems.append(f"{service}: no NetworkPolicy denies ingress to its pods by default")
            allowed = expected_flows(service)
            for flow, policy in sorted(admitted.items(), key=lambda item: str(item[0])):
                if not any(_matches(flow, want, pods_of.get(client, [])) for want, client in allowed):
                    problems.append(f"{service}: {policy} admits {flow}, which is not an allowed flow")
            for want, client in allowed:
                if not any(_matches(flow, want, pods_of.get(client, [])) for flow in admitted):
                    problems.append(f"{service}: no NetworkPolicy admits {want}")
    return problems


# --- values that must stay strings, GitOps stability ------------------------------------------------------------

def check_image_tag(manifests: Iterable[dict], tag: str) -> list[str]:
    """The image and the version label carry `tag` as a string, as Go YAML (Argo CD, kubectl) reads them."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        for where, labels in ((ref(workload), workload["metadata"].get("labels") or {}),
                              (f"{ref(workload)}: pod template", pod_labels(workload))):
            version = labels.get("app.kubernetes.io/version")
            if not isinstance(version, str):
                problems.append(f"{where}: label app.kubernetes.io/version is {type(version).__name__} "
                                f"{version!r}, not a string")
            elif version != tag.replace(":", "-")[:63]:
                problems.append(f"{where}: label app.kubernetes.io/version is {version!r}, expected {tag!r}")
        for c in pod_spec(workload).get("containers") or []:
            image = c.get("image")
            sep = "@" if tag.startswith("sha256:") else ":"
            if not isinstance(image, str) or not image.endswith(f"{sep}{tag}"):
                problems.append(f"{ref(workload)}: container {c.get('name')} image {image!r} does not end in {sep}{tag}")
    return problems


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def check_gitops_stable(manifests: Iterable[dict]) -> list[str]:
    """No nulls or empty maps/lists (the live object drops them: endless diff), no Helm hooks
    (Argo CD runs them as sync hooks, not as part of the app), label values all strings."""
    problems = []
    for obj in manifests:
        for path, value in _walk(obj, ""):
            if value is None or (isinstance(value, (dict, list)) and not value):
                problems.append(f"{ref(obj)}: {path} is {'null' if value is None else repr(value)}")
        meta = obj.get("metadata", {})
        for key in meta.get("annotations") or {}:
            if key.startswith("helm.sh/hook"):
                problems.append(f"{ref(obj)}: annotation {key} makes it a Helm hook")
        for path, value in _walk(meta.get("labels") or {}, "metadata.labels"):
            if path != "metadata.labels" and not isinstance(value, str):
                problems.append(f"{ref(obj)}: {path} is {type(value).__name__} {value!r}, not a string")
    return problems


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


def check_template_sources(chart_dirs: Iterable[Path]) -> list[str]:
    """No template calls a function whose result changes between renders or reads the cluster."""
    pattern = re.compile(r"(?<![\w.$])(" + "|".join(NON_DETERMINISTIC_FUNCTIONS) + r")\b")
    problems = []
    for chart in chart_dirs:
        for path in sorted(Path(chart).glob("templates/**/*")):
            if not path.is_file():
                continue
            text = path.read_text()
            for action in _ACTION.finditer(text):
                body = re.sub(r"/\*.*?\*/", "", action.group(1), flags=re.S)
                body = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', body)
                for match in pattern.finditer(body):
                    line = text.count("\n", 0, action.start()) + 1
                    problems.append(f"{path.relative_to(Path(chart).parent)}:{line}: uses {match.group(1)}")
    return problems


def check_project_permits(manifests: Iterable[dict], project: dict) -> list[str]:
    """Every object's kind is in the Argo CD AppProject's namespaceResourceWhitelist."""
    allowed = {(w.get("group", ""), w.get("kind")) for w in project.get("spec", {}).get("namespaceResourceWhitelist") or []}
    problems = []
    for obj in manifests:
        group = obj["apiVersion"].rpartition("/")[0]
        if (group, obj["kind"]) not in allowed and ("*", "*") not in allowed:
            problems.append(f"{ref(obj)}: kind {obj['kind']} of group {group or 'core'!r} is not permitted by "
                            f"AppProject {project['metadata']['name']}")
    return problems


# --- all of it for one environment ---------------------------------------------------------------------------

def check_environment(renders: dict[str, list[dict]], releases: dict[str, str], namespace: str,
                      tags: dict[str, str], project: dict | None = None) -> list[str]:
    """Every check over the charts of one environment; `renders`, `releases`, `tags` keyed by app.
    A problem found in one chart's render names that chart first."""
    problems = []
    for service, manifests in sorted(renders.items()):
        checks = [
            check_kubernetes_schema(manifests),
            check_pod_security_restricted(manifests),
            check_container_hardening(manifests),
            check_rollout(manifests),
            check_resources(manifests),
            check_probes(manifests),
            check_listen_ports(manifests),
            check_ports_resolve(manifests),
            check_high_availability(manifests),
            check_labels(manifests, service, releases[service]),
            check_service_wiring(manifests, service),
            check_ingress(manifests),
            check_gitops_stable(manifests),
            check_image_tag(manifests, tags[service]),
        ]
        if project is not None:
            checks.append(check_project_permits(manifests, project))
        problems += [f"charts/{service}: {p}" for found in checks for p in found]
    if "api-node" in renders and "core-go" in renders:
        problems += check_core_go_url(renders["api-node"], renders["core-go"], namespace)
    problems += check_network_policies(renders)
    return problems
