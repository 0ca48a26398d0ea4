"""The namespace the applications run in, with Pod Security `restricted` enforced."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}

# Namespaces every cluster has: they are labelled in place, never created or deleted.
BUILT_IN_NAMESPACES = frozenset({"default"})


@dataclass
class AppNamespaceArgs:
    name: str


class AppNamespace(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform-ops:apps:AppNamespace", name, None, opts)
        metadata = {"name": args.name, "labels": RESTRICTED}
        child = pulumi.ResourceOptions(parent=self)
        if args.name in BUILT_IN_NAMESPACES:
            self.namespace = k8s.core.v1.NamespacePatch(f"{name}-namespace", metadata=metadata, opts=child)
        else:
            self.namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=metadata, opts=child)
        self.name = args.name
        self.register_outputs({"name": self.name})
