"""platform-ops: Git says what runs; Pulumi builds the platform that makes it so.

    cluster (Kind or existing) -> Kubernetes provider
      -> app namespace (Pod Security restricted)
      -> NGINX ingress (installed here, or the cluster's own)
      -> cert-manager (installed here, or the cluster's own) + the stack's issuer (TLS for the charts' Ingresses)
      -> Argo CD (verified manifest, or the cluster's own) -> project + Applications (charts/ from Git)
      -> registry pull secret on the default ServiceAccount
      -> Prometheus
"""
import pulumi

from components.app_namespace import AppNamespace, AppNamespaceArgs
from components.argocd import ArgoCD, ArgoCDArgs
from components.cert_manager import CertManager, CertManagerArgs
from components.cluster import KindCluster, KindClusterArgs, existing_cluster_access, kind_kubeconfig_path, \
    kubectl_command
from components.gitops import GitOpsApplications, GitOpsApplicationsArgs
from components.ingress import Ingress, IngressArgs
from components.kubernetes_provider import kubernetes_provider
from components.prometheus import Prometheus, PrometheusArgs, RuleFileError, load_rule_files
from components.registry import RegistryCredentials, RegistryCredentialsArgs
from components.sources import SourceError, fetch_verified, verified_copy_path
from components.takeover import keep_on_destroy
from platform_ops.cluster_check import check_before_any_change
from platform_ops.config import ConfigError, KindClusterSettings, cluster_access_problems, offline_render, \
    read_pulumi_config
from platform_ops.contract import PROJECT

try:
    cfg = read_pulumi_config(pulumi.get_stack())
    # The rule files must name the apps: checked here, so that a mismatch stops the run with its
    # one line before anything is registered, not with a traceback from inside the component.
    load_rule_files([app.service for app in cfg.gitops.apps])
    stack_file = f"Pulumi.{cfg.stack}.yaml"
    argocd_manifest = None
    if offline_render():
        # The offline render reaches no cluster and fetches nothing.
        if cfg.argocd.installed:
            argocd_manifest = verified_copy_path("argocd-install", cfg.argocd.install_manifest_sha256)
        taken_over = set()
    else:
        problems = cluster_access_problems(cfg.stack, cfg.cluster)
        if problems:
            raise ConfigError("\n".join(problems))
        if cfg.argocd.installed:
            argocd_manifest = fetch_verified("argocd-install", cfg.argocd.install_manifest,
                                             cfg.argocd.install_manifest_sha256,
                                             f"{stack_file}: {PROJECT}:argocd.installManifest")
        # What is on the cluster already, read before any resource is registered: a read through the
        # provider would fail the whole update for an object that does not exist.
        taken_over = check_before_any_change(cfg, argocd_manifest, kind_kubeconfig_path(cfg.stack))
except (ConfigError, RuleFileError, SourceError) as error:
    raise pulumi.RunError(str(error)) from None

if taken_over:
    pulumi.runtime.register_resource_transform(keep_on_destroy(taken_over))

on_kind = isinstance(cfg.cluster, KindClusterSettings)
if on_kind:
    kind = KindCluster("cluster", KindClusterArgs(cfg.cluster, kind_kubeconfig_path(cfg.stack)))
    cluster = kind.access
    pulumi.export("kubeconfig", kind.kubeconfig)
else:
    cluster = existing_cluster_access(cfg.cluster)
pulumi.export("kubeconfigPath", cluster.kubeconfig_path)


def on_cluster(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(providers=[provider], depends_on=list(depends_on))


provider = kubernetes_provider("kubernetes", cluster)

apps_namespace = AppNamespace("apps", AppNamespaceArgs(cfg.gitops.namespace), opts=on_cluster())

ingress = Ingress("ingress", IngressArgs(cfg.ingress, node_ports=on_kind), opts=on_cluster())

cert_manager = CertManager(
    "cert-manager", CertManagerArgs(cfg.cert_manager, ingress_class=cfg.ingress.class_name, stack=cfg.stack),
    opts=on_cluster())

argocd = ArgoCD("argocd", ArgoCDArgs(cfg.argocd, cluster, cfg.stack, argocd_manifest), opts=on_cluster())

RegistryCredentials("registry", RegistryCredentialsArgs(cfg.registry, cfg.gitops.namespace),
                    opts=on_cluster(apps_namespace))

gitops = GitOpsApplications(
    "gitops",
    GitOpsApplicationsArgs(
        settings=cfg.gitops,
        environment=cfg.environment,
        argocd_namespace=cfg.argocd.namespace,
        argocd_install=argocd.install,
    ),
    # The charts' Ingress needs its class and its issuer when Argo CD syncs it.
    opts=on_cluster(apps_namespace, ingress, cert_manager),
)

prometheus = Prometheus(
    "prometheus",
    PrometheusArgs(
        settings=cfg.prometheus,
        app_namespaces=[cfg.gitops.namespace],
        apps=[app.service for app in cfg.gitops.apps],
        kubectl=kubectl_command(cluster),
    ),
    opts=on_cluster(apps_namespace),
)

pulumi.export("argocdUi", argocd.ui_command)
if argocd.admin_password is not None:
    pulumi.export("argocdAdminPassword", argocd.admin_password)
elif argocd.initial_admin_password_command is not None:
    pulumi.export("argocdInitialAdminPasswordCommand", argocd.initial_admin_password_command)
pulumi.export("apiUrls", [f"https://{app.tls.host}" for app in cfg.gitops.apps if app.tls])
pulumi.export("applications", gitops.summary)
pulumi.export("prometheusUi", prometheus.ui_command)
