"""The namespace the applications run in, with Pod Security `restricted` enforced."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from platform_ops.contract import BUILT_IN_NAMESPACES, POD_SECURITY_RESTRICTED_LABELS


@dataclass
class AppNamespaceArgs:
    """The namespace the Argo CD Applications deploy the charts into."""

    name: str


class AppNamespace(pulumi.ComponentResource):
    """The apps' namespace with Pod Security `restricted` enforced, warned and audited.

    A namespace every cluster has (`default`) is labelled in place with a NamespacePatch, never
    created or deleted; any other is created and, on destroy, deleted.
    """

    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:apps:AppNamespace", name, None, opts)
        metadata = {"name": args.name, "labels": POD_SECURITY_RESTRICTED_LABELS}
        child = pulumi.ResourceOptions(parent=self)
        if args.name in BUILT_IN_NAMESPACES:
            self.namespace = k8s.core.v1.NamespacePatch(f"{name}-namespace", metadata=metadata, opts=child)
        else:
            self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata, opts=child)
        self.name = args.name
        self.register_outputs({"name": self.name})
