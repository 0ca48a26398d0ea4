"""Argo CD, installed from the upstream manifest of a pinned release."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ClusterAccess
from components.kubernetes_provider import kubernetes_provider
from config import ArgoCDSettings

INITIAL_ADMIN_SECRET = "argocd-initial-admin-secret"


def install_manifest_url(version: str) -> str:
    return f"https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml"


@dataclass
class ArgoCDArgs:
    settings: ArgoCDSettings
    cluster: ClusterAccess


class ArgoCD(pulumi.ComponentResource):
    def __init__(self, name: str, args: ArgoCDArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:argocd:ArgoCD", name, None, opts)
        namespace = args.settings.namespace
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": namespace}, opts=pulumi.ResourceOptions(parent=self))
        # install.yaml names no namespace: a provider whose default namespace is
        # Argo CD's puts every namespaced object there.
        self.provider = kubernetes_provider(
            f"{name}-provider", args.cluster, namespace=namespace, opts=pulumi.ResourceOptions(parent=self))
        self.install = k8s.yaml.v2.ConfigFile(
            f"{name}-install",
            file=install_manifest_url(args.settings.version),
            opts=pulumi.ResourceOptions(
                parent=self, providers={"kubernetes": self.provider}, depends_on=[self.namespace]),
        )
        admin_secret = k8s.core.v1.Secret.get(
            f"{name}-initial-admin-secret",
            f"{namespace}/{INITIAL_ADMIN_SECRET}",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[self.install]),
        )
        self.admin_password: pulumi.Output[str] = pulumi.Output.secret(
            admin_secret.data.apply(lambda data: base64.b64decode(data["password"]).decode()))
        self.ui_command = (f"kubectl --kubeconfig {args.cluster.kubeconfig_path} --context {args.cluster.context} "
                           f"-n {namespace} port-forward svc/argocd-server 8080:443")
        self.register_outputs({
            "namespace": namespace,
            "version": args.settings.version,
            "ui": self.ui_command,
            "adminPassword": self.admin_password,
        })
