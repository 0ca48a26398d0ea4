"""platform-ops: Git says what runs; Pulumi builds the platform that makes it so.

    cluster (Kind or existing) -> Kubernetes provider
      -> app namespace (Pod Security restricted)
      -> NGINX ingress + self-signed TLS
      -> Argo CD -> project + Applications (charts/ from Git)
      -> registry pull secret on the default ServiceAccount
      -> Prometheus
"""
import pulumi

from components.app_namespace import AppNamespace, AppNamespaceArgs
from components.argocd import ArgoCD, ArgoCDArgs
from components.cluster import KindCluster, KindClusterArgs, existing_cluster_access, kind_kubeconfig_path
from components.gitops import GitOpsApplications, GitOpsApplicationsArgs
from components.ingress import Ingress, IngressArgs
from components.kubernetes_provider import kubernetes_provider
from components.prometheus import PrometheusStack, PrometheusStackArgs
from components.registry import RegistryCredentials, RegistryCredentialsArgs
from config import ConfigError, KindClusterSettings, read_pulumi_config

try:
    cfg = read_pulumi_config(pulumi.get_stack())
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None

on_kind = isinstance(cfg.cluster, KindClusterSettings)
if on_kind:
    kind = KindCluster("cluster", KindClusterArgs(cfg.cluster, kind_kubeconfig_path(cfg.stack)))
    cluster = kind.access
    pulumi.export("kubeconfig", kind.kubeconfig)
else:
    cluster = existing_cluster_access(cfg.cluster)
pulumi.export("kubeconfigPath", cluster.kubeconfig_path)

on_cluster = pulumi.ResourceOptions(providers=[kubernetes_provider("kubernetes", cluster)])

apps_namespace = AppNamespace("apps", AppNamespaceArgs(cfg.gitops.namespace), opts=on_cluster)

ingress = Ingress(
    "ingress",
    IngressArgs(
        settings=cfg.ingress,
        tls_namespace=cfg.gitops.namespace,
        tls_hosts=[app.tls for app in cfg.gitops.apps if app.tls],
        node_ports=on_kind,
    ),
    opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[apps_namespace])),
)

argocd = ArgoCD("argocd", ArgoCDArgs(cfg.argocd, cluster), opts=on_cluster)

RegistryCredentials(
    "registry",
    RegistryCredentialsArgs(cfg.registry, cfg.gitops.namespace),
    opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[apps_namespace])),
)

gitops = GitOpsApplications(
    "gitops",
    GitOpsApplicationsArgs(
        settings=cfg.gitops,
        environment=cfg.environment,
        argocd_namespace=cfg.argocd.namespace,
        argocd_install=[argocd.install],
    ),
    opts=on_cluster,
)

prometheus = PrometheusStack(
    "prometheus",
    PrometheusStackArgs(
        settings=cfg.prometheus,
        app_namespaces=[cfg.gitops.namespace],
        apps=[app.service for app in cfg.gitops.apps],
    ),
    opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[apps_namespace])),
)

pulumi.export("argocdUi", argocd.ui_command)
pulumi.export("argocdAdminPassword", argocd.admin_password)
pulumi.export("apiUrls", [f"https://{app.tls.host}" for app in cfg.gitops.apps if app.tls])
pulumi.export("applications", gitops.summary)
pulumi.export("prometheusUi", prometheus.ui_command)
