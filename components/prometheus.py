"""Prometheus for the platform's applications, installed as plain Kubernetes objects.

No Helm chart and no operator: every object below is written out here so that what runs in the
cluster can be read in one place. The scrape configuration is built by pure functions
(`build_prometheus_config`, `discovery_rbac_rules`); the recording rules and alerts are data, one
rule group per file in prometheus/rules/ in Prometheus's own rule-file format, which
`load_rule_files` checks and puts into the ConfigMap unchanged. So tests run the real `promtool`
on the rule files themselves and `prometheus` on exactly what the cluster gets.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
import yaml

from platform_ops.config import PrometheusSettings
from platform_ops.contract import (APPS_SCRAPE_JOB, METRICS_PORT_NAME, OBSERVABILITY_NAMESPACE,
                                    PART_OF, POD_SECURITY_RESTRICTED_LABELS, PROMETHEUS_CONFIG_MAP, PROMETHEUS_NAME,
                                    PROMETHEUS_PORT)
from platform_ops.paths import PROMETHEUS_RULES_DIR, REPO_ROOT

COMPONENT_TYPE = "platform-ops:prometheus:Prometheus"
# The type the component had until it was renamed: stacks deployed before keep their state under it.
FORMER_COMPONENT_TYPE = "platform-ops:prometheus:PrometheusStack"

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

# One rule group per file, prometheus/rules/<group>.yaml, so that promtool checks and unit-tests
# the very files the ConfigMap carries.
RULES_SUFFIX = ".yaml"
# The rule files of the ConfigMap (prometheus.yml names them) and the groups each holds, in order.
RULE_FILES: dict[str, tuple[str, ...]] = {
    APP_RULES_FILE: ("platform-apps-recording", "platform-apps-alerts"),
    PROMETHEUS_RULES_FILE: ("prometheus-alerts",),
}
# The alerts that list the apps by name: `up` of Prometheus's own job is no app's, and absent()
# needs one selector per app. The rule file lists them while the program passes the application
# charts of charts/; every load compares the two, so a new chart cannot go unwatched, and the
# rule file stays the whole rule, as promtool tests it.
APP_ALERTS_GROUP = "platform-apps-alerts"
APP_NAMING_ALERTS = ("AppTargetDown", "AppTargetMissing")
# A `job` label matcher, equality or regex; DNS labels hold no quote.
JOB_MATCHER = re.compile(r'\bjob=~?"([^"]*)"')

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


class RuleFileError(ValueError):
    """prometheus/rules/ is not what the ConfigMap needs; the message is one line naming the file
    and the key."""


def _alternation(names: Sequence[str]) -> str:
    # DNS labels hold no regex metacharacters, so the names can be joined as they are.
    return "|".join(names)


def build_prometheus_config(settings: PrometheusSettings, namespaces: Sequence[str],
                            apps: Sequence[str]) -> dict:
    """prometheus.yml: the platform's apps found through EndpointSlices, plus Prometheus itself.
    The settings, namespaces and apps are valid: platform_ops.config checked them."""
    meta = "__meta_kubernetes_"
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
        },
        # Relative paths resolve against this file's directory, where the ConfigMap puts them.
        "rule_files": list(RULE_FILES),
        "scrape_configs": [
            {
                "job_name": NAME,
                "static_configs": [{"targets": [f"localhost:{PORT}"]}],
            },
            {
                "job_name": APPS_SCRAPE_JOB,
                "kubernetes_sd_configs": [{
                    "role": DISCOVERY,
                    "namespaces": {"names": list(namespaces)},
                }],
                "relabel_configs": [
                    # Only the platform's own Services: anything else in the namespace is ignored.
                    {"source_labels": [f"{meta}service_label_app_kubernetes_io_part_of"],
                     "regex": PART_OF, "action": "keep"},
                    {"source_labels": [f"{meta}service_label_app_kubernetes_io_name"],
                     "regex": _alternation(apps), "action": "keep"},
                    # One target per pod: the Service port named "metrics", the apps' own /metrics
                    # port. Their other ports (api-node's and core-go's "http") serve no metrics.
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


def _shown(path: Path) -> str:
    """A path as error messages name it: from the repository root when it is inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def load_rule_group(path: Path) -> dict:
    """The one rule group of prometheus/rules/<group>.yaml, checked: the group is named after the
    file and every rule has `alert` or `record`, and `expr`. promtool checks the rest."""
    where = _shown(path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise RuleFileError(f"{where}: not valid YAML: {getattr(error, 'problem', None) or error}{at}") from None
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list):
        raise RuleFileError(f"{where}: groups: missing or not a list")
    if len(groups) != 1:
        raise RuleFileError(f"{where}: groups: {len(groups)} groups, expected exactly one")
    [group] = groups
    if not isinstance(group, dict):
        raise RuleFileError(f"{where}: groups[0]: not a mapping")
    if group.get("name") != path.stem:
        raise RuleFileError(f"{where}: groups[0].name: {group.get('name')!r} does not match the file name "
                         f"(expected {path.stem!r})")
    rules = group.get("rules")
    if not isinstance(rules, list):
        raise RuleFileError(f"{where}: groups[0].rules: missing or not a list")
    for index, rule in enumerate(rules):
        key = f"groups[0].rules[{index}]"
        if not isinstance(rule, dict):
            raise RuleFileError(f"{where}: {key}: not a mapping")
        if "alert" not in rule and "record" not in rule:
            raise RuleFileError(f"{where}: {key}: neither alert nor record")
        if not rule.get("expr"):
            raise RuleFileError(f"{where}: {key}.expr: missing in {rule.get('alert') or rule.get('record')}")
    return group


def _check_app_alerts(path: Path, group: dict, apps: Sequence[str]) -> None:
    """Each alert of APP_NAMING_ALERTS names exactly `apps` in its `job` matchers."""
    expected = sorted(apps)
    for alert in APP_NAMING_ALERTS:
        found = [(i, rule) for i, rule in enumerate(group["rules"]) if rule.get("alert") == alert]
        if not found:
            raise RuleFileError(f"{_shown(path)}: groups[0].rules: no alert {alert}, which has to name every app "
                             f"(APP_NAMING_ALERTS in components/prometheus.py)")
        for index, rule in found:
            named = sorted({app for matcher in JOB_MATCHER.findall(rule["expr"]) for app in matcher.split("|")})
            if named != expected:
                raise RuleFileError(f"{_shown(path)}: groups[0].rules[{index}].expr: {alert} names the apps "
                                 f"{', '.join(named) or 'none'}, not the apps Prometheus scrapes: {', '.join(expected)}")


def load_rule_files(apps: Sequence[str], rules_dir: Path = PROMETHEUS_RULES_DIR) -> dict[str, dict]:
    """Rule file name -> rule file: the groups of `rules_dir` as RULE_FILES puts them into the
    ConfigMap, each group as its file has it."""
    listed = {group: file_name for file_name, groups in RULE_FILES.items() for group in groups}
    for path in sorted(rules_dir.glob(f"*{RULES_SUFFIX}")):
        if path.stem not in listed:
            raise RuleFileError(f"{_shown(path)}: group {path.stem} is in no rule file of the ConfigMap "
                             f"(RULE_FILES in components/prometheus.py)")
    groups = {}
    for group_name, file_name in listed.items():
        path = rules_dir / f"{group_name}{RULES_SUFFIX}"
        if not path.is_file():
            raise RuleFileError(f"{_shown(path)}: missing; RULE_FILES in components/prometheus.py puts group "
                             f"{group_name} into {file_name}")
        groups[group_name] = load_rule_group(path)
    _check_app_alerts(rules_dir / f"{APP_ALERTS_GROUP}{RULES_SUFFIX}", groups[APP_ALERTS_GROUP], apps)
    return {file_name: {"groups": [groups[name] for name in names]} for file_name, names in RULE_FILES.items()}


def dump_yaml(document: dict) -> str:
    """Stable YAML: the same document always gives the same text, so the checksum is stable too."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=4096)


def config_map_data(settings: PrometheusSettings, namespaces: Sequence[str], apps: Sequence[str]) -> dict[str, str]:
    """The files Prometheus reads from /etc/prometheus."""
    data = {CONFIG_FILE: dump_yaml(build_prometheus_config(settings, namespaces, apps))}
    for file_name, rules in load_rule_files(apps).items():
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
                "image": f"{IMAGE_REPOSITORY}:{settings.version}@{settings.image_digest}",
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

# The ports the API server listens on: 6443 (kubeadm, Kind), 443 (most managed clusters). A policy
# sees the connection after the kubernetes Service's address is translated to an endpoint, so these
# are the endpoints' ports, and the addresses are the endpoints' too (api_server_cidrs).
API_SERVER_PORTS = (443, 6443)


def network_policy_spec(namespaces: Sequence[str], apps: Sequence[str], api_server_cidrs: Sequence[str]) -> dict:
    """Default deny for Prometheus, and only the flows it needs: discovery on
    the API server's addresses, scrapes of the apps' metrics ports, and its own UI
    port from its namespace (users reach it through `kubectl port-forward`, which
    no policy filters). No DNS: the API server's address comes from
    KUBERNETES_SERVICE_HOST and the targets' from the EndpointSlices, both IPs."""
    if not api_server_cidrs:
        # An egress rule with an empty "to" would allow every address.
        raise ValueError("API server CIDRs: at least one is required")
    return {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{
            "from": [{"podSelector": {}}],
            "ports": [{"protocol": "TCP", "port": PORT}],
        }],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": cidr}} for cidr in api_server_cidrs],
                "ports": [{"protocol": "TCP", "port": port} for port in API_SERVER_PORTS],
            },
            {
                "to": [{
                    "namespaceSelector": {"matchExpressions": [{
                        "key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}]},
                    "podSelector": {"matchExpressions": [{
                        "key": "app.kubernetes.io/name", "operator": "In", "values": sorted(apps)}]},
                }],
                "ports": [{"protocol": "TCP", "port": METRICS_PORT_NAME}],
            },
        ],
    }


@dataclass(frozen=True)
class PrometheusArgs:
    """What the program passes to `Prometheus`: the stack's settings and the apps to scrape."""

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


class Prometheus(pulumi.ComponentResource):
    """Prometheus in namespace `observability`: it discovers the apps through the EndpointSlices
    of their namespaces, scrapes their /metrics, and evaluates the rules of prometheus/rules/.

    Children: the Namespace, a ServiceAccount, a discovery Role and RoleBinding in each app
    namespace, the ConfigMap (prometheus.yml and the rule files), the Deployment, its Service and
    NetworkPolicy. The settings are valid (platform_ops.config checked them); apps that the rules
    do not name raise RuleFileError before anything is registered.
    """

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None):
        settings = args.settings
        namespaces = list(args.app_namespaces)
        # Rule files that do not fit the apps fail before anything is registered.
        data = config_map_data(settings, namespaces, args.apps)
        policy = network_policy_spec(namespaces, args.apps, settings.api_server_cidrs)
        # Under the former type, the component and its children keep their state instead of being
        # replaced: the alias carries over to every child's URN.
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_COMPONENT_TYPE)]))
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
            spec=policy,
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
