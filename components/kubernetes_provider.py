"""The one way this program builds a Kubernetes provider."""
from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import ClusterAccess


def kubernetes_provider(name: str, access: ClusterAccess, namespace: Optional[str] = None,
                        opts: Optional[pulumi.ResourceOptions] = None) -> k8s.Provider:
    """A provider with server-side apply (Argo CD's CRDs are too large for
    client-side apply) and a stable cluster identity.

    `namespace` is the default for objects that name none, which is how
    upstream manifests without namespaces are installed where they belong."""
    return k8s.Provider(
        name,
        kubeconfig=access.kubeconfig,
        context=access.context,
        cluster_identifier=access.cluster_identifier,
        enable_server_side_apply=True,
        namespace=namespace,
        opts=opts,
    )
