"""How the real-cluster tier runs the platform's own stacks on this machine."""
from __future__ import annotations

from pathlib import Path

from platform_ops.config import stack_file_config
from platform_ops.paths import REPO_ROOT

# The contexts the staging and prod stacks name; both reach the tier's control plane.
CONTEXTS = ["platform-staging", "platform-prod"]
ADMIN_PASSWORD = "testbed admin password"
REGISTRY_TOKEN = "ghp_testbedTokenNeverReal"
# staging sets every secret the program takes, prod none.
SECRETS = {"staging": {"registryToken": REGISTRY_TOKEN, "argocdAdminPassword": ADMIN_PASSWORD}, "prod": {}}


API_SERVER_CIDR = "127.0.0.1/32"


def local_sources(stack: str, testbed: Path, kubeconfig: Path, repo_root: Path = REPO_ROOT) -> dict:
    """The only settings of the stack this machine changes: cluster access (the API server's
    address among it) and upstream sources (the local mirrors, and the cluster's own ingress
    controller, since F5's chart is not served here). The versions come from
    the stack file in `repo_root`."""
    settings = stack_file_config(stack, repo_root)
    return {
        "cluster": {"kubeconfig": str(kubeconfig)},
        "ingress": {"controller": "external"},
        "certManager": {"chart": str(testbed / "mirror" / f"cert-manager-{settings['certManager']['version']}")},
        "argocd": {"installManifest": str(testbed / "mirror" / f"argocd-{settings['argocd']['version']}"
                                          / "install.yaml")},
        # The control plane listens on loopback: that is the API server Prometheus must reach.
        "prometheus": {"apiServerCidrs": [API_SERVER_CIDR]},
    }


def cluster_ingress_class() -> dict:
    """The IngressClass of the cluster's own controller (ingress.controller: external)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
            "spec": {"controller": "nginx.org/ingress-controller"}}
