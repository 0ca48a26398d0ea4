"""The settings schema: the typed, validated settings of a stack, the keys a stack file may
set, and the defaults of the settings that have one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from platform_ops.contract import ARGOCD_NAMESPACE

# Secret settings, set with `pulumi config set --secret`; never in Git as plain text.
SECRET_KEYS = ("registryToken", "argocdAdminPassword", "argocdWebhookSecret")

CONFIG_KEYS = ("cluster", "ingress", "certManager", "argocd", "gitops", "registry", "prometheus") + SECRET_KEYS

# Public sources of the upstream artifacts; each can be pointed at a mirror.
NGINX_INGRESS_CHART = "oci://ghcr.io/nginx/charts/nginx-ingress"
CERT_MANAGER_CHART = "oci://quay.io/jetstack/charts/cert-manager"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
DEFAULT_ISSUER_NAMES = {"selfSigned": "platform-ca", "acme": "letsencrypt"}
# argocd.install and certManager.install: installed by this stack, or already on the cluster.
INSTALLED_BY_STACK = "stack"
ALREADY_ON_CLUSTER = "cluster"


def argocd_install_manifest_url(version: str) -> str:
    return f"https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml"


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
    # Whether the installed controller sends F5 its daily product telemetry (the chart's own
    # default is on); off unless the stack turns it on.
    telemetry_reporting: bool

    @property
    def installed(self) -> bool:
        return self.controller == "nginx"


@dataclass(frozen=True)
class IssuerSettings:
    # "selfSigned" or "acme": the stack creates the ClusterIssuer; "existing": a ClusterIssuer
    # already on the cluster, used as it is.
    type: str
    name: str
    email: Optional[str] = None
    server: Optional[str] = None


@dataclass(frozen=True)
class CertManagerSettings:
    # None when cert-manager is already on the cluster: the stack installs no chart.
    version: Optional[str]
    chart: Optional[str]
    # Where cert-manager runs: the self-signed issuer's CA secret is kept there.
    namespace: str
    issuer: IssuerSettings
    install: str = INSTALLED_BY_STACK

    @property
    def installed(self) -> bool:
        return self.install == INSTALLED_BY_STACK


@dataclass(frozen=True)
class ArgoCDSettings:
    # The install settings are None when Argo CD is already on the cluster: the stack installs and
    # changes nothing of it.
    version: Optional[str]
    install_manifest: Optional[str]
    install_manifest_sha256: Optional[str]
    # How long Argo CD waits between two looks at Git for an Application, and the most it adds
    # to that wait at random (argocd-cm timeout.reconciliation and timeout.reconciliation.jitter).
    reconciliation_timeout: Optional[str]
    reconciliation_jitter: Optional[str]
    namespace: str = ARGOCD_NAMESPACE
    # False: Argo CD's local admin account is off (argocd-cm admin.enabled), as Argo CD
    # documents for clusters whose users log in through SSO.
    admin_enabled: bool = True
    # The password as text, which the program hashes (kept out of repr), or None:
    # Argo CD keeps its own initial password.
    admin_password: Optional[str] = field(default=None, repr=False)
    # pulumi.Output[str] marked secret, or None: no Git webhook.
    webhook_secret: Any = None
    install: str = INSTALLED_BY_STACK

    @property
    def installed(self) -> bool:
        return self.install == INSTALLED_BY_STACK


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
    # The digest of prom/prometheus:<version>'s image index: the tag names, the digest pins.
    image_digest: str
    retention: str
    scrape_interval: str
    cpu_request: str
    memory_request: str
    memory_limit: str
    # The networks holding the API server's addresses (those of the default/kubernetes Service's
    # endpoints): the only addresses Prometheus's NetworkPolicy lets it reach outside the apps.
    api_server_cidrs: tuple[str, ...]


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
