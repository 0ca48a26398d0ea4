"""What each `platform-ops:*` setting must be: `load_config` reads every setting in one pass
and raises one ConfigError that lists every problem, before any resource is registered."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from platform_ops.config.chart_values import app_values, chart_problems, check_charts_match_platform, ingress_tls
from platform_ops.config.errors import ConfigError
from platform_ops.config.reader import SettingsReader, show_value
from platform_ops.config.settings import (
    ALREADY_ON_CLUSTER, CERT_MANAGER_CHART, CONFIG_KEYS, DEFAULT_ISSUER_NAMES, INSTALLED_BY_STACK, LETSENCRYPT_STAGING,
    NGINX_INGRESS_CHART, AppChart,
    ArgoCDSettings, CertManagerSettings, ClusterSettings, ExistingClusterSettings, GitOpsSettings, IngressSettings,
    IssuerSettings, KindClusterSettings, PlatformConfig, PrometheusSettings, RegistrySettings,
    argocd_install_manifest_url,
)
from platform_ops.contract import (APPS_NAMESPACE, ARGOCD_NAMESPACE, CERT_MANAGER_NAMESPACE, CLUSTER_NAMESPACES,
                                   DURATION, INGRESS_CONTROLLER_NAMESPACE, MIN_SAMPLES_PER_RATE_WINDOW, PROJECT,
                                   RATE_WINDOW)
from platform_ops.layout import application_charts
from platform_ops.paths import CHARTS_DIR
from platform_ops.quantity import duration_seconds, parse_quantity

_PINNED_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
_PINNED_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
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
# Whole seconds, minutes or hours: Argo CD reads its reconciliation timeout and jitter as a Go
# duration and keeps whole seconds of it.
_ARGOCD_DURATION = re.compile(r"^\d+(s|m|h)$")
_INSTALL = re.compile(f"^({INSTALLED_BY_STACK}|{ALREADY_ON_CLUSTER})$")


def load_config(stack: str, raw: Mapping[str, Any], secrets: Optional[Mapping[str, Any]] = None,
                charts_dir: Path = CHARTS_DIR, lines: Optional[Mapping[str, int]] = None) -> PlatformConfig:
    """Validate `raw` (the stack's `platform-ops:*` settings, keys without the
    project prefix) and return typed settings, or raise ConfigError.

    `secrets` maps the SECRET_KEYS that are set to their (secret) values; `lines` the settings
    to their line in the stack file, when `raw` was read from it."""
    secrets = secrets or {}
    reader = SettingsReader(stack, raw, lines)
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
    check_charts_match_platform(reader, stack, gitops, ingress, cert_manager)

    if reader.problems:
        raise ConfigError("\n".join(reader.problems))
    return PlatformConfig(stack, cluster, ingress, cert_manager, argocd, gitops, registry, prometheus)


def _read_cluster(reader: SettingsReader, stack: str) -> Optional[ClusterSettings]:
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
    reader.problem("cluster.mode", f'must be "kind" or "existing", got {show_value(mode)}')
    return None


def _read_ingress(reader: SettingsReader) -> IngressSettings:
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
        # Off unless the stack turns it on: nothing the platform installs reports to a third
        # party by default (the chart's own default is on).
        telemetry_reporting=reader.boolean(section, "ingress.telemetryReporting", False),
    )


def _read_install(reader: SettingsReader, section: Mapping[str, Any], path: str) -> Optional[str]:
    return reader.string(section, path, INSTALLED_BY_STACK, _INSTALL,
                         f'must be "{INSTALLED_BY_STACK}" (installed by this stack) or "{ALREADY_ON_CLUSTER}" '
                         "(already on the cluster)")


def _refuse_install_settings(reader: SettingsReader, section: Mapping[str, Any], name: str, part: str,
                             keys: tuple[str, ...]) -> None:
    """With `<name>.install: cluster`, the settings that only shape an install of this stack are refused:
    the stack changes nothing of a part it did not install, and a destroy could not put it back."""
    for key in keys:
        if key in section:
            reader.problem(f"{name}.{key}", f'applies only when {name}.install is "{INSTALLED_BY_STACK}": '
                                            f"the stack changes nothing of {part} it did not install")


def _read_cert_manager(reader: SettingsReader) -> CertManagerSettings:
    section = reader.section("certManager")
    install = _read_install(reader, section, "certManager.install")
    issuer_section = reader.section("certManager.issuer", required=False, parent=section)
    issuer_type = reader.string(issuer_section, "certManager.issuer.type", "selfSigned",
                                re.compile(r"^(selfSigned|acme|existing)$"),
                                'must be "selfSigned", "acme" or "existing"')
    email = server = None
    if issuer_type == "acme":
        email = reader.string(issuer_section, "certManager.issuer.email", None, _EMAIL,
                              "must be the e-mail address the ACME account is registered with")
        server = reader.string(issuer_section, "certManager.issuer.server", LETSENCRYPT_STAGING,
                               re.compile(r"^https://\S+$"), "must be the https:// URL of an ACME directory")
    if issuer_type == "existing" and install == INSTALLED_BY_STACK:
        reader.problem("certManager.issuer.type", f'"existing" needs certManager.install "{ALREADY_ON_CLUSTER}": '
                                                  "a cert-manager this stack installs has no issuer yet")
    issuer = IssuerSettings(
        type=issuer_type,
        # An existing issuer has no default name: the stack file names the one it uses.
        name=reader.dns_label(
            issuer_section, "certManager.issuer.name",
            None if issuer_type == "existing" else DEFAULT_ISSUER_NAMES.get(issuer_type, "platform-ca")),
        email=email,
        server=server,
    )
    namespace = reader.dns_label(section, "certManager.namespace", CERT_MANAGER_NAMESPACE)
    if install == ALREADY_ON_CLUSTER:
        _refuse_install_settings(reader, section, "certManager", "a cert-manager", ("version", "chart"))
        return CertManagerSettings(None, None, namespace, issuer, install)
    return CertManagerSettings(
        version=reader.string(section, "certManager.version", None, _PINNED_VERSION,
                              "must be a pinned version such as v1.21.2"),
        chart=reader.string(section, "certManager.chart", CERT_MANAGER_CHART, _CHART_SOURCE, _CHART_RULE),
        namespace=namespace,
        issuer=issuer,
    )


def _read_argocd(reader: SettingsReader, secrets: Mapping[str, Any]) -> ArgoCDSettings:
    section = reader.section("argocd")
    install = _read_install(reader, section, "argocd.install")
    namespace = reader.dns_label(section, "argocd.namespace", ARGOCD_NAMESPACE)
    if install == ALREADY_ON_CLUSTER:
        _refuse_install_settings(reader, section, "argocd", "an Argo CD", (
            "version", "installManifest", "installManifestSha256", "reconciliationTimeout", "reconciliationJitter",
            "adminEnabled"))
        for key in ("argocdAdminPassword", "argocdWebhookSecret"):
            if key in secrets:
                reader.problem(key, 'applies only when argocd.install is "stack": the stack changes nothing of an '
                                    "Argo CD it did not install")
        return ArgoCDSettings(None, None, None, None, None, namespace=namespace, install=install)
    if namespace not in (None, ARGOCD_NAMESPACE):
        reader.problem("argocd.namespace", f'must be "{ARGOCD_NAMESPACE}" when argocd.install is '
                                           f'"{INSTALLED_BY_STACK}": install.yaml binds Argo CD\'s ClusterRoles to '
                                           f'ServiceAccounts in namespace {ARGOCD_NAMESPACE}, got "{namespace}"')
    version = reader.string(section, "argocd.version", None, _PINNED_VERSION,
                            "must be a pinned version such as v3.5.7")
    admin_enabled = reader.boolean(section, "argocd.adminEnabled", True)
    admin_password = secrets.get("argocdAdminPassword")
    if admin_enabled is False and admin_password is not None:
        reader.problem("argocd.adminEnabled",
                       "is false, which turns Argo CD's admin account off: platform-ops:argocdAdminPassword "
                       "would never be used; remove it with pulumi config rm platform-ops:argocdAdminPassword")
    return ArgoCDSettings(
        version=version,
        install_manifest=reader.string(
            section, "argocd.installManifest", argocd_install_manifest_url(version or ""), _MANIFEST_SOURCE,
            "must be an https:// URL or a local path of Argo CD's install.yaml"),
        install_manifest_sha256=reader.string(
            section, "argocd.installManifestSha256", None, _SHA256,
            "must be the SHA-256 of the install manifest, 64 lowercase hex digits"),
        reconciliation_timeout=reader.string(
            section, "argocd.reconciliationTimeout", "180s", _ARGOCD_DURATION,
            "must be a duration such as 30s or 3m"),
        # 0s, not Argo CD's own 60s: left out, the timeout alone is the wait between two looks at
        # Git. The key is always written, so Argo CD's default never applies unseen.
        reconciliation_jitter=reader.string(
            section, "argocd.reconciliationJitter", "0s", _ARGOCD_DURATION,
            "must be a duration such as 0s, 30s or 1m"),
        admin_enabled=admin_enabled,
        admin_password=admin_password,
        webhook_secret=secrets.get("argocdWebhookSecret"),
    )


def _read_gitops(reader: SettingsReader, stack: str, charts_dir: Path) -> GitOpsSettings:
    section = reader.section("gitops")
    repo_url = reader.string(section, "gitops.repoURL", None, _GIT_URL,
                             "must be an https:// or ssh Git URL of this repository")
    target_revision = reader.string(section, "gitops.targetRevision", "main")
    namespace = reader.dns_label(section, "gitops.namespace", APPS_NAMESPACE)
    if namespace in CLUSTER_NAMESPACES:
        reader.problem("gitops.namespace", f"is {namespace}, which belongs to the cluster: the apps get a "
                                           f"namespace of their own, such as {APPS_NAMESPACE}")
    for chart_yaml in sorted(charts_dir.glob("*/Chart.yaml")):
        reader.problems.extend(chart_problems(chart_yaml.parent))
    apps = []
    for service in application_charts(charts_dir):
        value_files = ("values.yaml", f"values-{stack}.yaml")
        if not (charts_dir / service / value_files[-1]).is_file():
            reader.problems.append(
                f"charts/{service}/values-{stack}.yaml: missing; every application chart needs "
                f"a values file for stack {stack}")
            continue
        try:
            values = app_values(charts_dir / service, value_files)
        except ConfigError as error:
            reader.problems.extend(str(error).splitlines())
            continue
        apps.append(AppChart(
            service=service,
            path=f"charts/{service}",
            value_files=value_files,
            tls=ingress_tls(values),
        ))
    if not apps and not reader.problems:
        reader.problems.append(f"charts/: no application chart found in {charts_dir}")
    return GitOpsSettings(repo_url, target_revision, namespace, tuple(apps))


def _read_registry(reader: SettingsReader, token: Any) -> RegistrySettings:
    section = reader.section("registry", required=False)
    server = reader.string(section, "registry.server", "ghcr.io", _DNS_NAME, "must be a registry host name")
    secret_name = reader.dns_label(section, "registry.secretName", "ghcr-cred")
    username = section.get("username")
    if token is not None and not username:
        reader.problem("registry.username", f"is required when {PROJECT}:registryToken is set")
    return RegistrySettings(server, username, secret_name, token)


def _read_prometheus(reader: SettingsReader) -> PrometheusSettings:
    section = reader.section("prometheus")
    duration = "must be a duration such as 30s, 15m or 2d"
    quantity = "must be a Kubernetes quantity such as 100m, 256Mi or 1Gi"
    settings = PrometheusSettings(
        version=reader.string(section, "prometheus.version", None, re.compile(r"^v3\.\d+\.\d+$"),
                              "must be a pinned Prometheus 3 version such as v3.13.4"),
        image_digest=reader.string(section, "prometheus.imageDigest", None, _IMAGE_DIGEST,
                                   "must be the digest of the prom/prometheus image of that version, "
                                   "sha256:<64 hex digits>"),
        retention=reader.string(section, "prometheus.retention", "2d", DURATION, duration),
        scrape_interval=reader.string(section, "prometheus.scrapeInterval", "30s", DURATION, duration),
        cpu_request=reader.string(section, "prometheus.cpuRequest", "100m", _QUANTITY, quantity),
        memory_request=reader.string(section, "prometheus.memoryRequest", "256Mi", _QUANTITY, quantity),
        memory_limit=reader.string(section, "prometheus.memoryLimit", "512Mi", _QUANTITY, quantity),
        api_server_cidrs=_read_api_server_cidrs(reader, section),
    )
    # The rules' rate windows need MIN_SAMPLES_PER_RATE_WINDOW samples each.
    longest = duration_seconds(RATE_WINDOW) / MIN_SAMPLES_PER_RATE_WINDOW
    if settings.scrape_interval and duration_seconds(settings.scrape_interval) > longest:
        reader.problem("prometheus.scrapeInterval",
                       f"must be at most {longest:g}s: the rules' {RATE_WINDOW} rate windows need "
                       f"{MIN_SAMPLES_PER_RATE_WINDOW} samples each, got {show_value(settings.scrape_interval)}")
    # Kubernetes refuses a container whose request exceeds its limit, but only once it is applied.
    if (settings.memory_request and settings.memory_limit
            and parse_quantity(settings.memory_request) > parse_quantity(settings.memory_limit)):
        reader.problem("prometheus.memoryRequest",
                       f"must not exceed prometheus.memoryLimit ({settings.memory_limit}), "
                       f"got {show_value(settings.memory_request)}")
    return settings


def _read_api_server_cidrs(reader: SettingsReader, section: Mapping[str, Any]) -> tuple[str, ...]:
    """The networks of the API server's addresses: no default, since only the cluster knows them,
    and never a network that holds every address."""
    key = "prometheus.apiServerCidrs"
    value = section.get("apiServerCidrs")
    if value is None:
        reader.problem(key, "is required: the networks of the API server's addresses, such as [172.18.0.2/32] "
                            "(kubectl get endpointslice -n default kubernetes)")
        return ()
    if not isinstance(value, list) or not value:
        reader.problem(key, f"must be a non-empty list of CIDRs, got {show_value(value)}")
        return ()
    cidrs = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        try:
            network = ipaddress.ip_network(item) if isinstance(item, str) else None
        except ValueError:
            network = None
        if network is None:
            reader.problem(where, f"must be a CIDR with no host bits set, such as 172.18.0.0/16, got {show_value(item)}")
        elif network.prefixlen == 0:
            reader.problem(where, f"must not be {item}: that is every address, not the API server's")
        else:
            cidrs.append(str(network))
    return tuple(cidrs)
