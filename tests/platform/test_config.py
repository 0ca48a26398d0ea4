"""Stack config validation: each rule refuses bad input with a message naming the file and key."""
import shutil

import pytest

from platform_ops.config import ConfigError, load_config, stack_file
from platform_ops.contract import PROJECT


def dev_settings() -> dict:
    return {key[len(PROJECT) + 1:]: value for key, value in stack_file("dev").items()}


def error_for(stack="dev", **changes) -> str:
    raw = dev_settings()
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            raw[section] = {**raw[section], key: value}
        elif value is None:
            raw.pop(section)
        else:
            raw[section] = value
    with pytest.raises(ConfigError) as caught:
        load_config(stack, raw)
    return str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_is_valid_without_any_secret(stack):
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_file(stack).items()}
    config = load_config(stack, raw)
    assert config.registry.has_credentials is False
    assert [app.service for app in config.gitops.apps] == ["api-node", "core-go", "worker-python"]


@pytest.mark.parametrize("version", ["stable", "latest", "v3.5", "3.5.7"])
def test_argocd_version_must_be_pinned(version):
    assert error_for(argocd__version=version) == (
        f'Pulumi.dev.yaml: platform-ops:argocd.version must be a pinned version such as v3.5.7, got "{version}"')


def test_ingress_chart_version_must_be_pinned():
    assert error_for(ingress__chartVersion="^2.4") == (
        'Pulumi.dev.yaml: platform-ops:ingress.chartVersion must be a pinned chart version such as 2.4.4, got "^2.4"')


def test_kind_node_image_must_be_pinned_by_digest():
    assert error_for(cluster__nodeImage="kindest/node:v1.37.0") == (
        "Pulumi.dev.yaml: platform-ops:cluster.nodeImage must pin the kind node image by digest, such as "
        'kindest/node:v1.37.0@sha256:<64 hex digits>, got "kindest/node:v1.37.0"')


def test_repo_url_must_be_a_git_url():
    assert error_for(gitops__repoURL="github.com/zainasr/platform-ops") == (
        "Pulumi.dev.yaml: platform-ops:gitops.repoURL must be an https:// or ssh Git URL of this repository, "
        'got "github.com/zainasr/platform-ops"')


@pytest.mark.parametrize("path", ["gitops__namespace", "ingress__namespace", "cluster__name"])
def test_namespaces_and_names_must_be_dns_labels(path):
    key = path.replace("__", ".")
    assert error_for(**{path: "Apps_NS"}) == (
        f"Pulumi.dev.yaml: platform-ops:{key} must be a DNS label (lowercase letters, digits and '-', "
        'at most 63 characters), got "Apps_NS"')


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_the_apps_may_not_go_into_a_namespace_of_the_cluster(namespace):
    assert error_for(gitops__namespace=namespace) == (
        f"Pulumi.dev.yaml: platform-ops:gitops.namespace is {namespace}, which belongs to the cluster: "
        "the apps get a namespace of their own, such as apps")


def test_the_apps_namespace_defaults_to_their_own():
    raw = dev_settings()
    raw["gitops"] = {key: value for key, value in raw["gitops"].items() if key != "namespace"}
    assert load_config("dev", raw).gitops.namespace == "apps"


@pytest.mark.parametrize("port, shown", [(0, "0"), (70000, "70000"), ("80", '"80"'), (True, "True")])
def test_ports_must_be_in_range(port, shown):
    assert error_for(cluster__httpPort=port) == (
        f"Pulumi.dev.yaml: platform-ops:cluster.httpPort must be a port number between 1 and 65535, got {shown}")


def test_http_and_https_ports_must_differ():
    assert error_for(cluster__httpsPort=80) == (
        "Pulumi.dev.yaml: platform-ops:cluster.httpsPort must differ from cluster.httpPort, both are 80")


def test_cluster_mode_is_kind_or_existing():
    assert error_for(cluster__mode="eks") == (
        'Pulumi.dev.yaml: platform-ops:cluster.mode must be "kind" or "existing", got "eks"')


def test_existing_cluster_needs_kubeconfig_and_context():
    assert error_for(cluster={"mode": "existing"}) == (
        "Pulumi.dev.yaml: platform-ops:cluster.kubeconfig is required\n"
        "Pulumi.dev.yaml: platform-ops:cluster.context is required")


def test_missing_section_is_named():
    assert error_for(argocd=None) == (
        "Pulumi.dev.yaml: platform-ops:argocd is required\n"
        "Pulumi.dev.yaml: platform-ops:argocd.version is required\n"
        "Pulumi.dev.yaml: platform-ops:argocd.installManifestSha256 is required")


def test_misspelt_setting_is_refused():
    assert error_for(argocd__verison="v3.5.7") == (
        "Pulumi.dev.yaml: platform-ops:argocd.verison is not a known setting "
        "(known: install, namespace, version, installManifest, installManifestSha256, reconciliationTimeout, "
        "reconciliationJitter, adminEnabled)")


def test_unknown_top_level_key_is_refused():
    assert error_for(argo={"version": "v3.5.7"}) == (
        "Pulumi.dev.yaml: platform-ops:argo is not a known setting "
        "(known: cluster, ingress, certManager, argocd, gitops, registry, prometheus, "
        "registryToken, argocdAdminPassword, argocdWebhookSecret)")


def test_registry_token_needs_a_username():
    raw = dev_settings()
    raw["registry"] = {"server": "ghcr.io"}
    with pytest.raises(ConfigError) as caught:
        load_config("dev", raw, secrets={"registryToken": "t0ken"})
    assert str(caught.value) == (
        "Pulumi.dev.yaml: platform-ops:registry.username is required when platform-ops:registryToken is set")


def test_prometheus_version_must_be_a_pinned_v3():
    assert error_for(prometheus__version="v2.55.0") == (
        'Pulumi.dev.yaml: platform-ops:prometheus.version must be a pinned Prometheus 3 version such as v3.13.4, '
        'got "v2.55.0"')


def test_prometheus_image_digest_is_required():
    without = {key: value for key, value in dev_settings()["prometheus"].items() if key != "imageDigest"}
    assert error_for(prometheus=without) == "Pulumi.dev.yaml: platform-ops:prometheus.imageDigest is required"


@pytest.mark.parametrize("digest", [
    "87861b8cf91579109319ebc300f3f1060e6da9c05d6ae8ad15a20c879e84e32e", "sha256:87861b8c", "latest"])
def test_prometheus_image_must_be_pinned_by_a_full_digest(digest):
    assert error_for(prometheus__imageDigest=digest) == (
        "Pulumi.dev.yaml: platform-ops:prometheus.imageDigest must be the digest of the prom/prometheus image "
        f'of that version, sha256:<64 hex digits>, got "{digest}"')


def test_prometheus_retention_must_be_a_duration():
    assert error_for(prometheus__retention="two days") == (
        'Pulumi.dev.yaml: platform-ops:prometheus.retention must be a duration such as 30s, 15m or 2d, '
        'got "two days"')


def test_prometheus_api_server_cidrs_are_required():
    assert error_for(prometheus__apiServerCidrs=None) == (
        "Pulumi.dev.yaml: platform-ops:prometheus.apiServerCidrs is required: the networks of the API server's "
        "addresses, such as [172.18.0.2/32] (kubectl get endpointslice -n default kubernetes)")


def test_prometheus_api_server_cidrs_must_be_a_list():
    assert error_for(prometheus__apiServerCidrs="172.18.0.0/16") == (
        'Pulumi.dev.yaml: platform-ops:prometheus.apiServerCidrs must be a non-empty list of CIDRs, '
        'got "172.18.0.0/16"')


@pytest.mark.parametrize("cidr,shown", [("172.18.0.2/16", '"172.18.0.2/16"'), ("172.18.0.0/33", '"172.18.0.0/33"'),
                                        ("api.example", '"api.example"'), (6443, "6443")],
                         ids=["host-bits", "prefix-too-long", "name", "number"])
def test_prometheus_api_server_cidrs_must_be_networks(cidr, shown):
    assert error_for(prometheus__apiServerCidrs=["10.0.0.0/24", cidr]) == (
        f"Pulumi.dev.yaml: platform-ops:prometheus.apiServerCidrs[1] must be a CIDR with no host bits set, "
        f"such as 172.18.0.0/16, got {shown}")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_prometheus_api_server_cidrs_must_not_be_every_address(cidr):
    assert error_for(prometheus__apiServerCidrs=[cidr]) == (
        f"Pulumi.dev.yaml: platform-ops:prometheus.apiServerCidrs[0] must not be {cidr}: that is every address, "
        f"not the API server's")


def test_every_problem_is_reported_at_once():
    message = error_for(argocd__version="stable", cluster__httpPort=0)
    assert message.splitlines() == [
        "Pulumi.dev.yaml: platform-ops:cluster.httpPort must be a port number between 1 and 65535, got 0",
        'Pulumi.dev.yaml: platform-ops:argocd.version must be a pinned version such as v3.5.7, got "stable"',
    ]


def test_a_stack_without_values_files_in_the_charts_is_refused(repo_root, tmp_path):
    charts = tmp_path / "charts"
    shutil.copytree(repo_root / "charts", charts)
    (charts / "core-go" / "values-dev.yaml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_config("dev", dev_settings(), charts_dir=charts)
    assert str(caught.value) == (
        "charts/core-go/values-dev.yaml: missing; every application chart needs a values file for stack dev")


def test_library_charts_are_not_applications(repo_root):
    config = load_config("dev", dev_settings())
    assert "platform-lib" not in [app.service for app in config.gitops.apps]


def test_argocd_manifest_digest_must_be_a_sha256():
    assert error_for(argocd__installManifestSha256="09bfbb90") == (
        "Pulumi.dev.yaml: platform-ops:argocd.installManifestSha256 must be the SHA-256 of the install manifest, "
        '64 lowercase hex digits, got "09bfbb90"')


def test_argocd_manifest_defaults_to_the_release_on_github():
    config = load_config("dev", dev_settings())
    assert config.argocd.install_manifest == (
        "https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.7/manifests/install.yaml")


def test_argocd_manifest_mirror_must_be_https_or_a_path():
    assert error_for(argocd__installManifest="http://mirror.example/install.yaml") == (
        "Pulumi.dev.yaml: platform-ops:argocd.installManifest must be an https:// URL or a local path of "
        'Argo CD\'s install.yaml, got "http://mirror.example/install.yaml"')


def test_reconciliation_timeout_must_be_a_duration():
    assert error_for(argocd__reconciliationTimeout="soon") == (
        "Pulumi.dev.yaml: platform-ops:argocd.reconciliationTimeout must be a duration such as 30s or 3m, "
        'got "soon"')


@pytest.mark.parametrize("stack, timeout", [("dev", "30s"), ("staging", "60s"), ("prod", "180s")])
def test_dev_reconciles_more_often_than_prod(stack, timeout):
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_file(stack).items()}
    assert load_config(stack, raw).argocd.reconciliation_timeout == timeout


def test_ingress_controller_is_nginx_or_external():
    assert error_for(ingress__controller="traefik") == (
        'Pulumi.dev.yaml: platform-ops:ingress.controller must be "nginx" (installed here) or "external" '
        '(the cluster\'s own), got "traefik"')


def test_an_external_ingress_controller_needs_no_chart_version():
    raw = dev_settings()
    raw["ingress"] = {"controller": "external"}
    config = load_config("dev", raw)
    assert (config.ingress.installed, config.ingress.chart_version, config.ingress.class_name) == (False, None, "nginx")


@pytest.mark.parametrize("chart", ["oci://registry.internal/charts/cert-manager",
                                   "https://mirror.internal/cert-manager-v1.21.2.tgz", "vendor/cert-manager"])
def test_cert_manager_chart_can_come_from_a_mirror(chart):
    raw = dev_settings()
    raw["certManager"] = {**raw["certManager"], "chart": chart}
    assert load_config("dev", raw).cert_manager.chart == chart


def test_cert_manager_chart_url_must_be_a_chart_archive():
    assert error_for(certManager__chart="https://charts.jetstack.io") == (
        "Pulumi.dev.yaml: platform-ops:certManager.chart must be an oci:// reference, an https:// URL of a chart "
        'archive (.tgz) or a local path, got "https://charts.jetstack.io"')


def test_cert_manager_version_must_be_pinned():
    assert error_for(certManager__version="1.21") == (
        'Pulumi.dev.yaml: platform-ops:certManager.version must be a pinned version such as v1.21.2, got "1.21"')


def test_acme_issuer_needs_an_email_and_defaults_to_the_letsencrypt_staging_server():
    assert error_for(certManager__issuer={"type": "acme", "name": "platform-ca"}) == (
        "Pulumi.dev.yaml: platform-ops:certManager.issuer.email is required")
    raw = dev_settings()
    raw["certManager"] = {**raw["certManager"], "issuer": {"type": "acme", "name": "platform-ca",
                                                            "email": "ops@example.com"}}
    issuer = load_config("dev", raw).cert_manager.issuer
    assert issuer.server == "https://acme-staging-v02.api.letsencrypt.org/directory"


def test_unknown_issuer_setting_is_refused():
    assert error_for(certManager__issuer={"type": "selfSigned", "emial": "ops@example.com"}) == (
        "Pulumi.dev.yaml: platform-ops:certManager.issuer.emial is not a known setting "
        "(known: type, name, email, server)")


def test_chart_must_ask_for_the_stacks_issuer():
    assert error_for(certManager__issuer={"type": "acme", "email": "ops@example.com"}) == (
        'charts/api-node/values-dev.yaml: ingress.clusterIssuer "platform-ca" is not the stack\'s issuer '
        '"letsencrypt" (platform-ops:certManager.issuer.name)')


def test_chart_must_use_the_stacks_ingress_class():
    assert error_for(ingress__className="nginx-internal") == (
        'charts/api-node/values-dev.yaml: ingress.className "nginx" is not the stack\'s ingress class '
        '"nginx-internal" (platform-ops:ingress.className)')


def test_argocd_and_cert_manager_are_installed_by_the_stack_unless_it_says_otherwise():
    config = load_config("dev", dev_settings())
    assert (config.argocd.installed, config.cert_manager.installed) == (True, True)


def test_install_must_be_stack_or_cluster():
    assert error_for(certManager__install="helm") == (
        'Pulumi.dev.yaml: platform-ops:certManager.install must be "stack" (installed by this stack) or "cluster" '
        '(already on the cluster), got "helm"')


def test_argocd_already_on_the_cluster_takes_only_its_namespace():
    raw = {**dev_settings(), "argocd": {"install": "cluster", "namespace": "gitops"}}
    argocd = load_config("dev", raw).argocd
    assert (argocd.installed, argocd.namespace, argocd.version, argocd.reconciliation_timeout) == (
        False, "gitops", None, None)


def test_argocd_install_settings_are_refused_when_argocd_is_already_on_the_cluster():
    assert error_for(argocd__install="cluster").splitlines() == [
        f'Pulumi.dev.yaml: platform-ops:argocd.{key} applies only when argocd.install is "stack": the stack changes '
        "nothing of an Argo CD it did not install"
        for key in ("version", "installManifestSha256", "reconciliationTimeout", "reconciliationJitter")]


def test_the_admin_account_of_an_argocd_already_on_the_cluster_is_left_alone():
    raw = {**dev_settings(), "argocd": {"install": "cluster", "adminEnabled": False}}
    with pytest.raises(ConfigError) as caught:
        load_config("dev", raw)
    assert str(caught.value) == (
        'Pulumi.dev.yaml: platform-ops:argocd.adminEnabled applies only when argocd.install is "stack": the stack '
        "changes nothing of an Argo CD it did not install")


def test_argocd_secrets_are_refused_when_argocd_is_already_on_the_cluster():
    with pytest.raises(ConfigError) as caught:
        load_config("dev", {**dev_settings(), "argocd": {"install": "cluster"}},
                    secrets={"argocdAdminPassword": "pw", "argocdWebhookSecret": "hook"})
    assert str(caught.value).splitlines() == [
        f'Pulumi.dev.yaml: platform-ops:{key} applies only when argocd.install is "stack": the stack changes '
        "nothing of an Argo CD it did not install" for key in ("argocdAdminPassword", "argocdWebhookSecret")]


def test_an_argocd_this_stack_installs_goes_into_namespace_argocd():
    assert error_for(argocd__namespace="gitops") == (
        'Pulumi.dev.yaml: platform-ops:argocd.namespace must be "argocd" when argocd.install is "stack": '
        "install.yaml binds Argo CD's ClusterRoles to ServiceAccounts in namespace argocd, got \"gitops\"")


def test_cert_manager_install_settings_are_refused_when_it_is_already_on_the_cluster():
    assert error_for(certManager__install="cluster", certManager__chart="oci://mirror/cert-manager").splitlines() == [
        f'Pulumi.dev.yaml: platform-ops:certManager.{key} applies only when certManager.install is "stack": the '
        "stack changes nothing of a cert-manager it did not install" for key in ("version", "chart")]


def test_an_existing_issuer_needs_the_clusters_cert_manager_and_a_name():
    assert error_for(certManager={"version": "v1.21.2", "issuer": {"type": "existing"}}).splitlines() == [
        'Pulumi.dev.yaml: platform-ops:certManager.issuer.type "existing" needs certManager.install "cluster": a '
        "cert-manager this stack installs has no issuer yet",
        "Pulumi.dev.yaml: platform-ops:certManager.issuer.name is required"]


def test_an_existing_issuer_of_the_clusters_cert_manager_is_used_by_name():
    raw = {**dev_settings(), "certManager": {"install": "cluster",
                                             "issuer": {"type": "existing", "name": "platform-ca"}}}
    cert_manager = load_config("dev", raw).cert_manager
    assert (cert_manager.installed, cert_manager.issuer.type, cert_manager.issuer.name) == (
        False, "existing", "platform-ca")
