"""The namespace the applications run in, with Pod Security `restricted` enforced."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from platform_ops.contract import POD_SECURITY_RESTRICTED_LABELS


@dataclass
class AppNamespaceArgs:
    """The namespace the Argo CD Applications deploy the charts into."""

    name: str


class AppNamespace(pulumi.ComponentResource):
    """The apps' own namespace with Pod Security `restricted` enforced, warned and audited:
    created by the stack and, on destroy, deleted with what is left in it. Config refuses the
    cluster's own namespaces (`default`, `kube-*`), which the platform never touches."""

    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:apps:AppNamespace", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": args.name, "labels": POD_SECURITY_RESTRICTED_LABELS},
            opts=pulumi.ResourceOptions(parent=self))
        self.name = args.name
        self.register_outputs({"name": self.name})
