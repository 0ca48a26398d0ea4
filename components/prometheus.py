"""Prometheus for the platform's applications, installed as plain Kubernetes objects.

No Helm chart and no operator: every object below is written out here so that what runs in the
cluster can be read in one place. The scrape configuration and the rules are built by pure
functions (`build_prometheus_config`, `build_rule_files`, `discovery_rbac_rules`) so tests can run
the real `promtool` and `prometheus` on exactly what the cluster gets.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
import yaml

from platform_ops.config import PrometheusSettings
from platform_ops.contract import (APPS_SCRAPE_JOB, DNS_LABEL, DURATION, OBSERVABILITY_NAMESPACE, PART_OF, POD_SECURITY_RESTRICTED_LABELS,
                                    PROMETHEUS_CONFIG_MAP, PROMETHEUS_NAME, PROMETHEUS_PORT)

COMPONENT_TYPE = "platform-ops:prometheus:PrometheusStack"

NAMESPACE = OBSERVABILITY_NAMESPACE
NAME = PROMETHEUS_NAME
PORT = PROMETHEUS_PORT
PORT_NAME = "web"
CONFIG_MAP = PROMETHEUS_CONFIG_MAP
DISCOVERY_ROLE = "prometheus-discovery"
# The official image declares USER nobody; the restricted Pod Security level needs a numeric,
# non-root UID to prove runAsNonRoot, and nobody is 65534 in that image.
NOBODY = 65534
IMAGE_REPOSITORY = "prom/prometheus"

CONFIG_DIR = "/etc/prometheus"
CONFIG_FILE = "prometheus.yml"
APP_RULES_FILE = "platform-apps.rules.yml"
PROMETHEUS_RULES_FILE = "prometheus.rules.yml"
TSDB_PATH = "/prometheus"
# Prometheus deletes old blocks once the TSDB reaches RETENTION_SIZE, well before the kubelet
# would evict the pod for filling its emptyDir (TSDB_SIZE_LIMIT); the gap covers the WAL and
# compaction, which need room on top of the blocks.
RETENTION_SIZE = "1GB"
TSDB_SIZE_LIMIT = "2Gi"

# The Kubernetes service discovery role: one target per EndpointSlice port, with the labels of the
# Service, the EndpointSlice and the Pod behind each address.
DISCOVERY = "endpointslice"
METRICS_PORT_NAME = "metrics"

RATE_WINDOW = "5m"
# A 5m rate needs several samples to be stable; four is the usual floor.
MIN_SAMPLES_PER_RATE_WINDOW = 4

# HTTP status label values that are server errors. api-node (prom-client) records the numeric
# code ("500"); core-go records Go's http.StatusText(code) ("Internal Server Error"), which exists
# for exactly these 5xx codes: 500-508, 510 and 511. Go returns "" for any other code, so an
# unknown 5xx from core-go cannot be told apart and is not counted. PromQL anchors the regex.
HTTP_5XX_STATUS_TEXTS = (
    "Internal Server Error",            # 500
    "Not Implemented",                  # 501
    "Bad Gateway",                      # 502
    "Service Unavailable",              # 503
    "Gateway Timeout",                  # 504
    "HTTP Version Not Supported",       # 505
    "Variant Also Negotiates",          # 506
    "Insufficient Storage",             # 507
    "Loop Detected",                    # 508
    "Not Extended",                     # 510
    "Network Authentication Required",  # 511
)
HTTP_5XX_STATUS_REGEX = "|".join(("5..",) + HTTP_5XX_STATUS_TEXTS)

ERROR_RATIO_THRESHOLD = 0.05
P99_LATENCY_THRESHOLD_SECONDS = 1
# worker-python finishes a job every 10s, so a 5m window without one is 30 missed jobs: far
# beyond scheduling jitter or a slow job.
WORKER_STALL_WINDOW = "5m"

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

# What each Kubernetes discovery role of Prometheus reads (get, list and watch) without
# attach_metadata: the objects its informers follow. Only the role this stack uses is listed;
# another role has to be added here, deliberately, before it gets any permission.
DISCOVERY_ROLE_RESOURCES = {
    "endpointslice": (
        ("discovery.k8s.io", ("endpointslices",)),
        ("", ("pods", "services")),
    ),
}
READ_VERBS = ("get", "list", "watch")


# --- pure builders ------------------------------------------------------------------------------

def discovery_rbac_rules(role: str) -> list[dict]:
    """The RBAC rules a Prometheus Kubernetes discovery `role` needs in each namespace it watches."""
    if role not in DISCOVERY_ROLE_RESOURCES:
        raise ValueError(
            f"no RBAC rules for Kubernetes discovery role {role!r} "
            f"(known: {', '.join(sorted(DISCOVERY_ROLE_RESOURCES))})")
    return [
        {"apiGroups": [group], "resources": list(resources), "verbs": list(READ_VERBS)}
        for group, resources in DISCOVERY_ROLE_RESOURCES[role]
    ]


def duration_seconds(duration: str) -> float:
    """Seconds in a single-unit Prometheus duration such as 30s or 5m."""
    match = DURATION.fullmatch(duration)
    if not match:
        raise ValueError(f"{duration!r} is not a Prometheus duration such as 30s or 5m")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _check_names(kind: str, names: Sequence[str]) -> list[str]:
    names = list(names)
    if not names:
        raise ValueError(f"{kind}: at least one is required")
    for name in names:
        if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
            raise ValueError(f"{kind}: {name!r} is not a DNS label")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{kind}: {', '.join(duplicates)} listed more than once")
    return names


def _alternation(names: Sequence[str]) -> str:
    # DNS labels hold no regex metacharacters, so the names can be joined as they are.
    return "|".join(names)


def build_prometheus_config(settings: PrometheusSettings, namespaces: Sequence[str],
                            apps: Sequence[str]) -> dict:
    """prometheus.yml: the platform's apps found through EndpointSlices, plus Prometheus itself."""
    namespaces = _check_names("app namespaces", namespaces)
    apps = _check_names("apps", apps)
    interval = duration_seconds(settings.scrape_interval)
    longest = duration_seconds(RATE_WINDOW) / MIN_SAMPLES_PER_RATE_WINDOW
    if interval > longest:
        raise ValueError(
            f"scrape interval {settings.scrape_interval} is too long for the rules' {RATE_WINDOW} rate "
            f"windows: they need {MIN_SAMPLES_PER_RATE_WINDOW} samples, so at most {longest:g}s")
    meta = "__meta_kubernetes_"
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
        },
        # Relative paths resolve against this file's directory, where the ConfigMap puts them.
        "rule_files": [APP_RULES_FILE, PROMETHEUS_RULES_FILE],
        "scrape_configs": [
            {
                "job_name": NAME,
                "static_configs": [{"targets": [f"localhost:{PORT}"]}],
            },
            {
                "job_name": APPS_SCRAPE_JOB,
                "kubernetes_sd_configs": [{
                    "role": DISCOVERY,
                    "namespaces": {"names": namespaces},
                }],
                "relabel_configs": [
                    # Only the platform's own Services: anything else in the namespace is ignored.
                    {"source_labels": [f"{meta}service_label_app_kubernetes_io_part_of"],
                     "regex": PART_OF, "action": "keep"},
                    {"source_labels": [f"{meta}service_label_app_kubernetes_io_name"],
                     "regex": _alternation(apps), "action": "keep"},
                    # One target per pod: the Service port named "metrics". The other ports of the
                    # slice (api-node's and core-go's "http") reach the same process again.
                    {"source_labels": [f"{meta}endpointslice_port_name"],
                     "regex": METRICS_PORT_NAME, "action": "keep"},
                    # A Pending pod can already have an address in the slice (not ready) but serves
                    # nothing yet; a finished one serves nothing any more.
                    {"source_labels": [f"{meta}pod_phase"], "regex": "Running", "action": "keep"},
                    {"source_labels": [f"{meta}service_label_app_kubernetes_io_name"], "target_label": "job"},
                    {"source_labels": [f"{meta}namespace"], "target_label": "namespace"},
                    {"source_labels": [f"{meta}pod_name"], "target_label": "pod"},
                    {"source_labels": [f"{meta}service_name"], "target_label": "service"},
                ],
            },
        ],
    }


def _rate(selector: str) -> str:
    return f"rate({selector}[{RATE_WINDOW}])"


def build_rule_files(apps: Sequence[str]) -> dict[str, dict]:
    """Rule file name -> rule file: recording rules and alerts for the apps, alerts for Prometheus."""
    apps = _check_names("apps", apps)
    by = "sum by (namespace, job)"
    requests = f"{by} ({_rate('http_requests_total')})"
    # json.dumps quotes the regex as a PromQL double-quoted string.
    errors = f'{by} ({_rate(f"http_requests_total{{status=~{json.dumps(HTTP_5XX_STATUS_REGEX)}}}")})'
    window = RATE_WINDOW

    def quantile(q: float) -> str:
        return (f"histogram_quantile({q}, sum by (namespace, job, le) "
                f"({_rate('http_request_duration_seconds_bucket')}))")

    recording = [
        {"record": f"job:http_requests:rate{window}", "expr": requests},
        {"record": f"job:http_requests_5xx:rate{window}", "expr": errors},
        # Rules of a group run in order, so this one reads the two above at the same instant.
        # An app with traffic and no 5xx gets 0, not a missing series; no traffic, no ratio.
        {"record": f"job:http_requests_5xx:ratio_rate{window}",
         "expr": (f"(job:http_requests_5xx:rate{window} or 0 * job:http_requests:rate{window})"
                  f" / (job:http_requests:rate{window} > 0)")},
        # core-go's histogram has no status label, so latency is over all responses.
        {"record": f"job:http_request_duration_seconds:p50_rate{window}", "expr": quantile(0.5)},
        {"record": f"job:http_request_duration_seconds:p95_rate{window}", "expr": quantile(0.95)},
        {"record": f"job:http_request_duration_seconds:p99_rate{window}", "expr": quantile(0.99)},
    ]
    app_jobs = _alternation(apps)
    alerts = [
        {
            "alert": "AppTargetDown",
            "expr": f'up{{job=~"{app_jobs}"}} == 0',
            "for": "2m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.job }} pod {{ $labels.pod }} cannot be scraped",
                "description": ("Prometheus has failed to scrape /metrics of {{ $labels.namespace }}/"
                                "{{ $labels.pod }} ({{ $labels.job }}) for 2 minutes."),
            },
        },
        {
            # A pod that never reaches Running, a missing Service or lost discovery permissions
            # leave no target at all, so `up == 0` never fires for them.
            "alert": "AppTargetMissing",
            "expr": " or ".join(f'absent(up{{job="{app}"}})' for app in apps),
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.job }} has no scrape target",
                "description": ("Prometheus has discovered no running pod of {{ $labels.job }} behind a "
                                "Service port named metrics for 5 minutes."),
            },
        },
        {
            "alert": "AppHighErrorRatio",
            "expr": f"job:http_requests_5xx:ratio_rate{window} > {ERROR_RATIO_THRESHOLD}",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.job }} answers {{ $value | humanizePercentage }} of requests with 5xx",
                "description": (f"More than {ERROR_RATIO_THRESHOLD:.0%} of the HTTP requests of "
                                "{{ $labels.namespace }}/{{ $labels.job }} failed with a server error "
                                f"over {window}, for 5 minutes."),
            },
        },
        {
            "alert": "AppHighLatencyP99",
            "expr": f"job:http_request_duration_seconds:p99_rate{window} > {P99_LATENCY_THRESHOLD_SECONDS}",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.job }} p99 latency is {{ $value | humanizeDuration }}",
                "description": (f"The 99th percentile of HTTP request duration of {{{{ $labels.namespace }}}}/"
                                f"{{{{ $labels.job }}}} has been above {P99_LATENCY_THRESHOLD_SECONDS}s "
                                "for 10 minutes."),
            },
        },
        {
            "alert": "WorkerStalled",
            "expr": f"increase(worker_jobs_processed_total[{WORKER_STALL_WINDOW}]) == 0",
            "for": "2m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "worker {{ $labels.pod }} has processed no job",
                "description": ("{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.job }}) is scraped "
                                f"but has not finished a job in {WORKER_STALL_WINDOW}."),
            },
        },
    ]
    prometheus_alerts = [
        {
            "alert": "PrometheusConfigReloadFailed",
            "expr": "prometheus_config_last_reload_successful == 0",
            "for": "2m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Prometheus {{ $labels.instance }} runs on an old configuration",
                "description": ("The last reload of prometheus.yml or the rule files failed; Prometheus keeps "
                                "the configuration it loaded before. Its log names the error."),
            },
        },
    ]
    return {
        APP_RULES_FILE: {"groups": [
            {"name": "platform-apps-recording", "rules": recording},
            {"name": "platform-apps-alerts", "rules": alerts},
        ]},
        PROMETHEUS_RULES_FILE: {"groups": [
            {"name": "prometheus-alerts", "rules": prometheus_alerts},
        ]},
    }


def dump_yaml(document: dict) -> str:
    """Stable YAML: the same document always gives the same text, so the checksum is stable too."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=4096)


def config_map_data(settings: PrometheusSettings, namespaces: Sequence[str], apps: Sequence[str]) -> dict[str, str]:
    """The files Prometheus reads from /etc/prometheus."""
    data = {CONFIG_FILE: dump_yaml(build_prometheus_config(settings, namespaces, apps))}
    for file_name, rules in build_rule_files(apps).items():
        data[file_name] = dump_yaml(rules)
    return data


def config_checksum(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def labels(version: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": NAME,
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/component": "monitoring",
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


SELECTOR = {"app.kubernetes.io/name": NAME}


def pod_spec(settings: PrometheusSettings, checksum: str) -> dict:
    """The Prometheus pod template (without namespace: it lives in the Deployment)."""
    probe = lambda path: {"httpGet": {"path": path, "port": PORT_NAME}}  # noqa: E731
    return {
        "metadata": {
            "labels": labels(settings.version),
            # A changed ConfigMap changes this, which rolls the pod onto the new configuration.
            "annotations": {"checksum/config": checksum},
        },
        "spec": {
            "serviceAccountName": NAME,
            # Kubernetes discovery calls the API; the ServiceAccount itself does not mount tokens
            # anywhere else.
            "automountServiceAccountToken": True,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": NOBODY,
                "runAsGroup": NOBODY,
                # The emptyDir is group-owned by fsGroup, so nobody can write the TSDB.
                "fsGroup": NOBODY,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": NAME,
                "image": f"{IMAGE_REPOSITORY}:{settings.version}",
                "imagePullPolicy": "IfNotPresent",
                "args": [
                    f"--config.file={CONFIG_DIR}/{CONFIG_FILE}",
                    f"--storage.tsdb.path={TSDB_PATH}",
                    f"--storage.tsdb.retention.time={settings.retention}",
                    f"--storage.tsdb.retention.size={RETENTION_SIZE}",
                    f"--web.listen-address=:{PORT}",
                ],
                "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
                # Replaying the WAL after a container restart can take minutes; until then only
                # the startup probe runs.
                "startupProbe": {**probe("/-/ready"), "periodSeconds": 5, "timeoutSeconds": 3,
                                 "failureThreshold": 60},
                "readinessProbe": {**probe("/-/ready"), "periodSeconds": 10, "timeoutSeconds": 3,
                                   "failureThreshold": 3},
                "livenessProbe": {**probe("/-/healthy"), "periodSeconds": 15, "timeoutSeconds": 5,
                                  "failureThreshold": 4},
                # No CPU limit: throttling would delay scrapes and rule evaluation while the node
                # has CPU to spare. The memory limit stops a cardinality explosion from starving it.
                "resources": {
                    "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
                    "limits": {"memory": settings.memory_limit},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "runAsUser": NOBODY,
                    "runAsGroup": NOBODY,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [
                    {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                    {"name": "data", "mountPath": TSDB_PATH},
                ],
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": CONFIG_MAP}},
                # Short retention by design: the TSDB lives as long as the pod.
                {"name": "data", "emptyDir": {"sizeLimit": TSDB_SIZE_LIMIT}},
            ],
        },
    }


# --- component ----------------------------------------------------------------------------------

# The API server is not a pod, so no selector reaches it: its HTTPS ports, anywhere.
API_SERVER_PORTS = (443, 6443)
# The apps' container ports that serve /metrics: "http" (api-node, core-go) and "metrics" (worker-python).
APP_METRICS_PORT_NAMES = ("http", METRICS_PORT_NAME)


def network_policy_spec(namespaces: Sequence[str], apps: Sequence[str]) -> dict:
    """Default deny for Prometheus, and only the flows it needs: discovery on
    the API server, scrapes of the apps, and its own UI port from its namespace
    (users reach it through `kubectl port-forward`, which no policy filters)."""
    return {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{
            "from": [{"podSelector": {}}],
            "ports": [{"protocol": "TCP", "port": PORT}],
        }],
        "egress": [
            {"ports": [{"protocol": "TCP", "port": port} for port in API_SERVER_PORTS]},
            {
                "to": [{
                    "namespaceSelector": {"matchExpressions": [{
                        "key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}]},
                    "podSelector": {"matchExpressions": [{
                        "key": "app.kubernetes.io/name", "operator": "In", "values": sorted(apps)}]},
                }],
                "ports": [{"protocol": "TCP", "port": name} for name in APP_METRICS_PORT_NAMES],
            },
        ],
    }


@dataclass(frozen=True)
class PrometheusStackArgs:
    settings: PrometheusSettings
    # Namespaces whose EndpointSlices Prometheus watches (read access is granted in each).
    app_namespaces: Sequence[str]
    # App names as in their Services' app.kubernetes.io/name label; they become the `job` label.
    apps: Sequence[str]
    # When given, every object is created through it; otherwise through the provider the
    # component's own options carry.
    provider: Optional[k8s.Provider] = None
    # The start of a kubectl command line that reaches the cluster, for the UI command.
    kubectl: str = "kubectl"


class PrometheusStack(pulumi.ComponentResource):
    def __init__(self, name: str, args: PrometheusStackArgs, opts: Optional[pulumi.ResourceOptions] = None):
        settings = args.settings
        # Invalid arguments fail before anything is registered.
        namespaces = _check_names("app namespaces", args.app_namespaces)
        data = config_map_data(settings, namespaces, args.apps)
        if args.provider is not None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[args.provider]))
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self.config_checksum = config_checksum(data)
        child = pulumi.ResourceOptions(parent=self)
        common = labels(settings.version)

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": NAMESPACE, "labels": {
                "app.kubernetes.io/part-of": PART_OF,
                "app.kubernetes.io/managed-by": "pulumi",
                **POD_SECURITY_RESTRICTED_LABELS,
            }},
            opts=child,
        )
        namespace = self.namespace.metadata.name

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": NAME, "namespace": namespace, "labels": common},
            # Only the Prometheus pod mounts the token (it opts in in its spec).
            automount_service_account_token=False,
            opts=child,
        )

        rules = discovery_rbac_rules(DISCOVERY)
        self.roles, self.role_bindings = [], []
        for app_namespace in namespaces:
            role = k8s.rbac.v1.Role(
                f"{name}-discovery-{app_namespace}",
                metadata={"name": DISCOVERY_ROLE, "namespace": app_namespace, "labels": common},
                rules=rules,
                opts=child,
            )
            self.roles.append(role)
            self.role_bindings.append(k8s.rbac.v1.RoleBinding(
                f"{name}-discovery-{app_namespace}-binding",
                metadata={"name": DISCOVERY_ROLE, "namespace": app_namespace, "labels": common},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
                subjects=[{"kind": "ServiceAccount", "name": self.service_account.metadata.name,
                           "namespace": namespace}],
                opts=child,
            ))

        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": CONFIG_MAP, "namespace": namespace, "labels": common},
            data=data,
            opts=child,
        )

        template = pod_spec(settings, self.config_checksum)
        template["spec"]["serviceAccountName"] = self.service_account.metadata.name
        template["spec"]["volumes"][0]["configMap"]["name"] = self.config_map.metadata.name
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": NAME, "namespace": namespace, "labels": common},
            spec={
                "replicas": 1,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": SELECTOR},
                # The old pod goes only once the new one is ready: a configuration that Prometheus
                # rejects leaves the running Prometheus in place instead of none.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": template,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.role_bindings),
        )

        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": NAME, "namespace": namespace, "labels": common},
            spec={
                "type": "ClusterIP",
                "selector": SELECTOR,
                "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
            },
            opts=child,
        )

        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": NAME, "namespace": namespace, "labels": common},
            spec=network_policy_spec(namespaces, args.apps),
            opts=child,
        )

        self.ui_command = f"{args.kubectl} port-forward -n {NAMESPACE} svc/{NAME} {PORT}:{PORT}"
        self.register_outputs({
            "namespace": namespace,
            "service": self.service.metadata.name,
            "version": settings.version,
            "configChecksum": self.config_checksum,
            "ui": self.ui_command,
        })
