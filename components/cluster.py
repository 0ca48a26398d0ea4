"""Where the platform runs: a Kind cluster created here, or an existing cluster."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_command as command
import yaml

from platform_ops.config import ExistingClusterSettings, KindClusterSettings

# Relative to the project folder, where Pulumi runs the program and its commands.
KUBECONFIG_DIR = Path(".kube")

# The ingress controller's NodePorts on Kind; kind maps the host's HTTP(S)
# ports onto them, so the controller needs no hostPort (Pod Security baseline).
KIND_NODE_PORTS = {"http": 30080, "https": 30443}


@dataclass
class ClusterAccess:
    """What a Kubernetes provider needs to reach the cluster."""

    kubeconfig: pulumi.Input[str]
    kubeconfig_path: pulumi.Input[str]
    context: Optional[str]
    # Stays the same while the cluster does, so that a kubeconfig that changes
    # between runs (kind rotates its certificates) never replaces the provider.
    cluster_identifier: str


def kind_config(settings: KindClusterSettings) -> str:
    """The kind cluster config: one node, labelled for the ingress controller,
    with the host's HTTP(S) ports mapped into it."""
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": settings.name,
        "nodes": [{
            "role": "control-plane",
            "image": settings.node_image,
            "labels": {"ingress-ready": "true"},
            "extraPortMappings": [
                {"containerPort": KIND_NODE_PORTS["http"], "hostPort": settings.http_port, "protocol": "TCP"},
                {"containerPort": KIND_NODE_PORTS["https"], "hostPort": settings.https_port, "protocol": "TCP"},
            ],
        }],
    }
    return yaml.safe_dump(config, sort_keys=False)


def kind_create_script(name: str, kubeconfig_path: str) -> str:
    # `kind create cluster` fails when the cluster exists, so an existing one
    # (a re-run after an interrupted up, or state lost) is adopted instead.
    # Progress goes to stderr; stdout carries only the kubeconfig.
    n, k = shlex.quote(name), shlex.quote(kubeconfig_path)
    return (
        "set -euo pipefail\n"
        f"mkdir -p \"$(dirname {k})\"\n"
        f"if kind get clusters 2>/dev/null | grep -qx {n}; then\n"
        f"  kind export kubeconfig --name {n} --kubeconfig {k} >&2\n"
        "else\n"
        f"  kind create cluster --name {n} --config /dev/stdin --kubeconfig {k} --wait 180s >&2\n"
        "fi\n"
        f"chmod 600 {k}\n"
        f"kind get kubeconfig --name {n}\n"
    )


def kind_delete_script(name: str, kubeconfig_path: str) -> str:
    n, k = shlex.quote(name), shlex.quote(kubeconfig_path)
    return f"kind delete cluster --name {n} --kubeconfig {k} >&2\nrm -f {k}\n"


@dataclass
class KindClusterArgs:
    """The Kind cluster of a stack, and where its kubeconfig file goes (.kube/<stack>.yaml)."""

    settings: KindClusterSettings
    kubeconfig_path: str


class KindCluster(pulumi.ComponentResource):
    """A local Kind cluster whose kubeconfig is a Pulumi secret and a per-stack file."""

    def __init__(self, name: str, args: KindClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:cluster:KindCluster", name, None, opts)
        settings = args.settings
        config_yaml = kind_config(settings)
        self.cluster = command.local.Command(
            f"{name}-kind",
            create=kind_create_script(settings.name, args.kubeconfig_path),
            delete=kind_delete_script(settings.name, args.kubeconfig_path),
            stdin=config_yaml,
            interpreter=["/bin/bash", "-c"],
            # The kubeconfig is stdout: keep it out of the logs and secret in state.
            logging=command.local.Logging.STDERR,
            # Node image and port mappings cannot change on a running kind cluster.
            triggers=[config_yaml],
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["stdout"],
                delete_before_replace=True,
            ),
        )
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(self.cluster.stdout)
        self.kubeconfig_path = args.kubeconfig_path
        self.access = ClusterAccess(
            kubeconfig=self.kubeconfig,
            kubeconfig_path=args.kubeconfig_path,
            context=f"kind-{settings.name}",
            cluster_identifier=f"kind-{settings.name}",
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "kubeconfigPath": self.kubeconfig_path})


def kind_kubeconfig_path(stack: str) -> str:
    """Per-stack kubeconfig file: the user's ~/.kube/config is never touched."""
    return str(KUBECONFIG_DIR / f"{stack}.yaml")


def existing_cluster_access(settings: ExistingClusterSettings) -> ClusterAccess:
    # The path goes to the provider as written: the provider expands "~", so
    # the same stack shows no diff on a machine with another home directory.
    return ClusterAccess(
        kubeconfig=settings.kubeconfig,
        kubeconfig_path=settings.kubeconfig,
        context=settings.context,
        cluster_identifier=f"context-{settings.context}",
    )


def kubectl_command(access: ClusterAccess) -> str:
    """The start of a kubectl command line that reaches the stack's cluster."""
    return f"kubectl --kubeconfig {access.kubeconfig_path} --context {access.context}"
