"""Stack configuration: read once, validated before any resource is registered.

Every problem is reported as `Pulumi.<stack>.yaml: platform-ops:<key> <what is wrong>`,
all of them at once, so that one `pulumi up` shows everything to fix.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import yaml

from platform_ops.contract import ARGOCD_NAMESPACE, DNS_LABEL, DURATION, INGRESS_CONTROLLER_NAMESPACE, PROJECT
from platform_ops.paths import CHARTS_DIR, REPO_ROOT, stack_file_path

# Secret settings, set with `pulumi config set --secret`; never in Git as plain text.
SECRET_KEYS = ("registryToken", "argocdAdminPassword", "argocdWebhookSecret")

CONFIG_KEYS = ("cluster", "ingress", "certManager", "argocd", "gitops", "registry", "prometheus") + SECRET_KEYS

# Public sources of the upstream artifacts; each can be pointed at a mirror.
NGINX_INGRESS_CHART = "oci://ghcr.io/nginx/charts/nginx-ingress"
CERT_MANAGER_CHART = "oci://quay.io/jetstack/charts/cert-manager"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
DEFAULT_ISSUER_NAMES = {"selfSigned": "platform-ca", "acme": "letsencrypt"}


def argocd_install_manifest_url(version: str) -> str:
    return f"https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml"

_PINNED_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
_PINNED_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A chart: an OCI reference, an HTTPS URL of a chart archive, or a local path.
_CHART_SOURCE = re.compile(r"^(oci://\S+|https://\S+\.tgz|[^\s:]+)$")
_CHART_RULE = "must be an oci:// reference, an https:// URL of a chart archive (.tgz) or a local path"
# A manifest: an HTTPS URL or a local path.
_MANIFEST_SOURCE = re.compile(r"^(https://\S+|[^\s:]+)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KIND_NODE_IMAGE = re.compile(r"^kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GIT_URL = re.compile(r"^(https://[^\s/]+/\S+|ssh://\S+|git@[^\s:]+:\S+)$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")


class ConfigError(Exception):
    """One or more invalid stack settings; the message lists each on its own line."""


@dataclass(frozen=True)
class KindClusterSettings:
    name: str
    node_image: str
    http_port: int
    https_port: int


@dataclass(frozen=True)
class ExistingClusterSettings:
    kubeconfig: str
    context: str


ClusterSettings = Union[KindClusterSettings, ExistingClusterSettings]


@dataclass(frozen=True)
class IngressSettings:
    # "nginx": this program installs F5's NGINX Ingress Controller;
    # "external": the cluster runs one already, reached through class_name.
    controller: str
    chart: str
    chart_version: Optional[str]
    namespace: str
    class_name: str

    @property
    def installed(self) -> bool:
        return self.controller == "nginx"


@dataclass(frozen=True)
class IssuerSettings:
    type: str
    name: str
    email: Optional[str] = None
    server: Optional[str] = None


@dataclass(frozen=True)
class CertManagerSettings:
    version: str
    chart: str
    namespace: str
    issuer: IssuerSettings


@dataclass(frozen=True)
class ArgoCDSettings:
    version: str
    install_manifest: str
    install_manifest_sha256: str
    reconciliation_timeout: str
    namespace: str = ARGOCD_NAMESPACE
    # The password as text, which the program hashes (kept out of repr), or None:
    # Argo CD keeps its own initial password.
    admin_password: Optional[str] = field(default=None, repr=False)
    # pulumi.Output[str] marked secret, or None: no Git webhook.
    webhook_secret: Any = None


@dataclass(frozen=True)
class TlsHost:
    """A host that an application chart exposes through the ingress with TLS."""

    host: str
    secret_name: str
    class_name: str
    # The cert-manager ClusterIssuer the Ingress asks its certificate from.
    cluster_issuer: str


@dataclass(frozen=True)
class AppChart:
    service: str
    path: str
    value_files: tuple[str, ...]
    tls: Optional[TlsHost]


@dataclass(frozen=True)
class GitOpsSettings:
    repo_url: str
    target_revision: str
    namespace: str
    apps: tuple[AppChart, ...]


@dataclass(frozen=True)
class RegistrySettings:
    server: str
    username: Optional[str]
    secret_name: str
    # A pulumi.Output[str] marked secret; None means public images.
    token: Any = None

    @property
    def has_credentials(self) -> bool:
        return self.token is not None


@dataclass(frozen=True)
class PrometheusSettings:
    version: str
    retention: str
    scrape_interval: str
    cpu_request: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class PlatformConfig:
    stack: str
    cluster: ClusterSettings
    ingress: IngressSettings
    cert_manager: CertManagerSettings
    argocd: ArgoCDSettings
    gitops: GitOpsSettings
    registry: RegistrySettings
    prometheus: PrometheusSettings

    @property
    def environment(self) -> str:
        return self.stack


class _Reader:
    """Walks the raw config and collects every problem instead of stopping at the first."""

    def __init__(self, stack: str, raw: Mapping[str, Any]):
        self.stack_file = f"Pulumi.{stack}.yaml"
        self.raw = raw
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.stack_file}: {PROJECT}:{key} {text}")

    def section(self, name: str, required: bool = True, parent: Optional[Mapping[str, Any]] = None
                ) -> Mapping[str, Any]:
        value = (self.raw if parent is None else parent).get(name.rsplit(".", 1)[-1])
        if value is None:
            if required:
                self.problem(name, "is required")
            return {}
        if not isinstance(value, Mapping):
            self.problem(name, f"must be a mapping, got {_show(value)}")
            return {}
        known = _SECTION_KEYS.get(name, ())
        for key in value:
            if key not in known:
                self.problem(f"{name}.{key}", f"is not a known setting (known: {', '.join(known)})")
        return value

    def string(self, section: Mapping[str, Any], path: str, default: Optional[str] = None,
               pattern: Optional[re.Pattern] = None, rule: str = "") -> Optional[str]:
        value = section.get(path.rsplit(".", 1)[1], default)
        if value is None:
            self.problem(path, "is required")
            return None
        if not isinstance(value, str) or not value:
            self.problem(path, f"must be a non-empty string, got {_show(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{rule}, got {_show(value)}")
            return None
        return value

    def dns_label(self, section: Mapping[str, Any], path: str, default: Optional[str] = None) -> Optional[str]:
        return self.string(section, path, default, DNS_LABEL,
                           "must be a DNS label (lowercase letters, digits and '-', at most 63 characters)")

    def port(self, section: Mapping[str, Any], path: str, default: int) -> Optional[int]:
        value = section.get(path.rsplit(".", 1)[1], default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.problem(path, f"must be a port number between 1 and 65535, got {_show(value)}")
            return None
        return value


_SECTION_KEYS = {
    "cluster": ("mode", "name", "nodeImage", "httpPort", "httpsPort", "kubeconfig", "context"),
    "ingress": ("controller", "chart", "chartVersion", "namespace", "className"),
    "certManager": ("version", "chart", "namespace", "issuer"),
    "certManager.issuer": ("type", "name", "email", "server"),
    "argocd": ("version", "installManifest", "installManifestSha256", "reconciliationTimeout"),
    "gitops": ("repoURL", "targetRevision", "namespace"),
    "registry": ("server", "username", "secretName"),
    "prometheus": ("version", "retention", "scrapeInterval", "cpuRequest", "memoryRequest", "memoryLimit"),
}


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def load_config(stack: str, raw: Mapping[str, Any], secrets: Optional[Mapping[str, Any]] = None,
                charts_dir: Path = CHARTS_DIR) -> PlatformConfig:
    """Validate `raw` (the stack's `platform-ops:*` settings, keys without the
    project prefix) and return typed settings, or raise ConfigError.

    `secrets` maps the SECRET_KEYS that are set to their (secret) values."""
    secrets = secrets or {}
    reader = _Reader(stack, raw)
    for key in raw:
        if key not in CONFIG_KEYS:
            reader.problem(key, f"is not a known setting (known: {', '.join(CONFIG_KEYS)})")

    cluster = _read_cluster(reader, stack)
    ingress = _read_ingress(reader)
    cert_manager = _read_cert_manager(reader)
    argocd = _read_argocd(reader, secrets)
    gitops = _read_gitops(reader, stack, charts_dir)
    registry = _read_registry(reader, secrets.get("registryToken"))
    prometheus = _read_prometheus(reader)
    _check_charts_match_platform(reader, stack, gitops, ingress, cert_manager)

    if reader.problems:
        raise ConfigError("\n".join(reader.problems))
    return PlatformConfig(stack, cluster, ingress, cert_manager, argocd, gitops, registry, prometheus)


def _read_cluster(reader: _Reader, stack: str) -> Optional[ClusterSettings]:
    section = reader.section("cluster")
    mode = section.get("mode", "kind")
    if mode == "kind":
        name = reader.dns_label(section, "cluster.name", f"platform-{stack}")
        node_image = reader.string(
            section, "cluster.nodeImage", None, _KIND_NODE_IMAGE,
            "must pin the kind node image by digest, such as kindest/node:v1.37.0@sha256:<64 hex digits>")
        http_port = reader.port(section, "cluster.httpPort", 80)
        https_port = reader.port(section, "cluster.httpsPort", 443)
        if http_port is not None and http_port == https_port:
            reader.problem("cluster.httpsPort", f"must differ from cluster.httpPort, both are {http_port}")
        return KindClusterSettings(name, node_image, http_port, https_port)
    if mode == "existing":
        kubeconfig = reader.string(section, "cluster.kubeconfig")
        context = reader.string(section, "cluster.context")
        return ExistingClusterSettings(kubeconfig, context)
    reader.problem("cluster.mode", f'must be "kind" or "existing", got {_show(mode)}')
    return None


def _read_ingress(reader: _Reader) -> IngressSettings:
    section = reader.section("ingress")
    controller = reader.string(section, "ingress.controller", "nginx", re.compile(r"^(nginx|external)$"),
                               'must be "nginx" (installed here) or "external" (the cluster\'s own)')
    chart_version = None
    if controller != "external":
        chart_version = reader.string(section, "ingress.chartVersion", None, _PINNED_CHART_VERSION,
                                      "must be a pinned chart version such as 2.4.4")
    return IngressSettings(
        controller=controller,
        chart=reader.string(section, "ingress.chart", NGINX_INGRESS_CHART, _CHART_SOURCE, _CHART_RULE),
        chart_version=chart_version,
        namespace=reader.dns_label(section, "ingress.namespace", INGRESS_CONTROLLER_NAMESPACE),
        class_name=reader.dns_label(section, "ingress.className", "nginx"),
    )


def _read_cert_manager(reader: _Reader) -> CertManagerSettings:
    section = reader.section("certManager")
    issuer_section = reader.section("certManager.issuer", required=False, parent=section)
    issuer_type = reader.string(issuer_section, "certManager.issuer.type", "selfSigned",
                                re.compile(r"^(selfSigned|acme)$"), 'must be "selfSigned" or "acme"')
    email = server = None
    if issuer_type == "acme":
        email = reader.string(issuer_section, "certManager.issuer.email", None, _EMAIL,
                              "must be the e-mail address the ACME account is registered with")
        server = reader.string(issuer_section, "certManager.issuer.server", LETSENCRYPT_STAGING,
                               re.compile(r"^https://\S+$"), "must be the https:// URL of an ACME directory")
    issuer = IssuerSettings(
        type=issuer_type,
        name=reader.dns_label(issuer_section, "certManager.issuer.name",
                              DEFAULT_ISSUER_NAMES.get(issuer_type, "platform-ca")),
        email=email,
        server=server,
    )
    return CertManagerSettings(
        version=reader.string(section, "certManager.version", None, _PINNED_VERSION,
                              "must be a pinned version such as v1.21.2"),
        chart=reader.string(section, "certManager.chart", CERT_MANAGER_CHART, _CHART_SOURCE, _CHART_RULE),
        namespace=reader.dns_label(section, "certManager.namespace", "cert-manager"),
        issuer=issuer,
    )


def _read_argocd(reader: _Reader, secrets: Mapping[str, Any]) -> ArgoCDSettings:
    section = reader.section("argocd")
    version = reader.string(section, "argocd.version", None, _PINNED_VERSION,
                            "must be a pinned version such as v3.5.7")
    return ArgoCDSettings(
        version=version,
        install_manifest=reader.string(
            section, "argocd.installManifest", argocd_install_manifest_url(version or ""), _MANIFEST_SOURCE,
            "must be an https:// URL or a local path of Argo CD's install.yaml"),
        install_manifest_sha256=reader.string(
            section, "argocd.installManifestSha256", None, _SHA256,
            "must be the SHA-256 of the install manifest, 64 lowercase hex digits"),
        reconciliation_timeout=reader.string(
            section, "argocd.reconciliationTimeout", "180s", re.compile(r"^\d+(s|m|h)$"),
            "must be a duration such as 30s or 3m"),
        admin_password=secrets.get("argocdAdminPassword"),
        webhook_secret=secrets.get("argocdWebhookSecret"),
    )


def _read_gitops(reader: _Reader, stack: str, charts_dir: Path) -> GitOpsSettings:
    section = reader.section("gitops")
    repo_url = reader.string(section, "gitops.repoURL", None, _GIT_URL,
                             "must be an https:// or ssh Git URL of this repository")
    target_revision = reader.string(section, "gitops.targetRevision", "main")
    namespace = reader.dns_label(section, "gitops.namespace", "default")
    apps = []
    for service in application_charts(charts_dir):
        values_file = charts_dir / service / f"values-{stack}.yaml"
        if not values_file.is_file():
            reader.problems.append(
                f"charts/{service}/values-{stack}.yaml: missing; every application chart needs "
                f"a values file for stack {stack}")
            continue
        apps.append(AppChart(
            service=service,
            path=f"charts/{service}",
            value_files=("values.yaml", f"values-{stack}.yaml"),
            tls=_ingress_tls(charts_dir / service, values_file),
        ))
    if not apps and not reader.problems:
        reader.problems.append(f"charts/: no application chart found in {charts_dir}")
    return GitOpsSettings(repo_url, target_revision, namespace, tuple(apps))


def _read_registry(reader: _Reader, token: Any) -> RegistrySettings:
    section = reader.section("registry", required=False)
    server = reader.string(section, "registry.server", "ghcr.io", _DNS_NAME, "must be a registry host name")
    secret_name = reader.dns_label(section, "registry.secretName", "ghcr-cred")
    username = section.get("username")
    if token is not None and not username:
        reader.problem("registry.username", f"is required when {PROJECT}:registryToken is set")
    return RegistrySettings(server, username, secret_name, token)


def _read_prometheus(reader: _Reader) -> PrometheusSettings:
    section = reader.section("prometheus")
    duration = "must be a duration such as 30s, 15m or 2d"
    quantity = "must be a Kubernetes quantity such as 100m, 256Mi or 1Gi"
    return PrometheusSettings(
        version=reader.string(section, "prometheus.version", None, re.compile(r"^v3\.\d+\.\d+$"),
                              "must be a pinned Prometheus 3 version such as v3.13.5"),
        retention=reader.string(section, "prometheus.retention", "2d", DURATION, duration),
        scrape_interval=reader.string(section, "prometheus.scrapeInterval", "30s", DURATION, duration),
        cpu_request=reader.string(section, "prometheus.cpuRequest", "100m", _QUANTITY, quantity),
        memory_request=reader.string(section, "prometheus.memoryRequest", "256Mi", _QUANTITY, quantity),
        memory_limit=reader.string(section, "prometheus.memoryLimit", "512Mi", _QUANTITY, quantity),
    )


def application_charts(charts_dir: Path = CHARTS_DIR) -> list[str]:
    """Names of the application charts (library charts are building blocks, not services)."""
    services = []
    for chart_yaml in sorted(charts_dir.glob("*/Chart.yaml")):
        chart = yaml.safe_load(chart_yaml.read_text()) or {}
        if chart.get("type", "application") == "application":
            services.append(chart_yaml.parent.name)
    return services


def _ingress_tls(chart_dir: Path, env_values_file: Path) -> Optional[TlsHost]:
    """The host and TLS secret the chart's Ingress uses in this environment,
    read from the same value files Argo CD renders with."""
    ingress = merged_values(chart_dir, ["values.yaml", env_values_file.name]).get("ingress") or {}
    if not ingress.get("enabled") or not ingress.get("host") or not ingress.get("tlsSecretName"):
        return None
    return TlsHost(host=ingress["host"], secret_name=ingress["tlsSecretName"],
                   class_name=ingress.get("className") or "", cluster_issuer=ingress.get("clusterIssuer") or "")


def _check_charts_match_platform(reader: _Reader, stack: str, gitops: GitOpsSettings,
                                 ingress: IngressSettings, cert_manager: CertManagerSettings) -> None:
    """Argo CD renders the charts from Git alone, so each chart's ingress class
    and certificate issuer must name what this stack provides."""
    for app in gitops.apps:
        if app.tls is None:
            continue
        values_file = f"charts/{app.service}/values-{stack}.yaml"
        if ingress.class_name and app.tls.class_name != ingress.class_name:
            reader.problems.append(
                f"{values_file}: ingress.className {_show(app.tls.class_name)} is not the stack's ingress class "
                f"{_show(ingress.class_name)} ({PROJECT}:ingress.className)")
        if cert_manager.issuer.name and app.tls.cluster_issuer != cert_manager.issuer.name:
            reader.problems.append(
                f"{values_file}: ingress.clusterIssuer {_show(app.tls.cluster_issuer)} is not the stack's "
                f"issuer {_show(cert_manager.issuer.name)} ({PROJECT}:certManager.issuer.name)")


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def merged_values(chart_dir: Path, value_files: Iterable[str]) -> dict:
    """A chart's values after the given value files, merged in order as Helm does."""
    values: dict = {}
    for name in value_files:
        values = _merge(values, yaml.safe_load((Path(chart_dir) / name).read_text()) or {})
    return values


def read_pulumi_config(stack: str) -> PlatformConfig:
    """Read the running stack's config through Pulumi and validate it."""
    import json

    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    raw: dict[str, Any] = {}
    prefix = f"{PROJECT}:"
    config = pulumi.Config(PROJECT)
    # The SDK has no public way to list the keys that are set; listing them is
    # what lets a misspelt key fail instead of being silently ignored.
    for full_key, value in {**get_config_env(), **CONFIG.get()}.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        if key in SECRET_KEYS:
            continue
        try:
            raw[key] = json.loads(value)
        except ValueError:
            raw[key] = value
    secrets: dict[str, Any] = {key: config.get_secret(key) for key in SECRET_KEYS if config.get(key) is not None}
    # The admin password is hashed by the program, so it is read as text; every
    # value made from it leaves the program as a secret.
    if "argocdAdminPassword" in secrets:
        secrets["argocdAdminPassword"] = config.get("argocdAdminPassword")
    return load_config(stack, raw, secrets=secrets)


# Set by scripts/render.py: the program runs under mocks, with no cluster and no network.
OFFLINE_RENDER_ENV = "PLATFORM_OPS_OFFLINE_RENDER"


def offline_render() -> bool:
    return os.environ.get(OFFLINE_RENDER_ENV) == "1"


class MissingStackFile(ConfigError, FileNotFoundError):
    """No Pulumi.<stack>.yaml: the stack does not exist in this repository."""


def stack_file(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml, keys with their project prefix."""
    path = stack_file_path(stack, repo_root)
    if not path.is_file():
        raise MissingStackFile(f"{path.name}: no such stack file")
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {}


def stack_file_config(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `platform-ops:*` settings of Pulumi.<stack>.yaml, keys without the project prefix."""
    prefix = f"{PROJECT}:"
    return {key[len(prefix):]: value for key, value in stack_file(stack, repo_root).items()
            if key.startswith(prefix)}


def cluster_access_problems(stack: str, cluster: ClusterSettings) -> list[str]:
    """Why the stack's existing cluster cannot be reached through its kubeconfig,
    checked before Pulumi hands the file to the Kubernetes provider (whose own
    error for a missing file is a JSON parse error). Kind stacks write their own."""
    if not isinstance(cluster, ExistingClusterSettings):
        return []
    stack_file = f"Pulumi.{stack}.yaml"
    path = Path(os.path.expanduser(cluster.kubeconfig))
    if not path.is_file():
        return [f"{stack_file}: {PROJECT}:cluster.kubeconfig: {cluster.kubeconfig} does not exist"]
    try:
        kubeconfig = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        return [f"{stack_file}: {PROJECT}:cluster.kubeconfig: {cluster.kubeconfig} is not readable YAML: "
                f"{str(error).splitlines()[0]}"]
    entries = kubeconfig.get("contexts") if isinstance(kubeconfig, dict) else None
    contexts = sorted(entry["name"] for entry in entries or []
                      if isinstance(entry, dict) and isinstance(entry.get("name"), str))
    if cluster.context not in contexts:
        return [f"{stack_file}: {PROJECT}:cluster.context: {cluster.context} is not a context of "
                f"{cluster.kubeconfig} (contexts: {', '.join(contexts) or 'none'})"]
    return []
