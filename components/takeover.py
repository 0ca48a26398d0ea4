"""What a deliberate takeover hands to the stack: it applies over the objects, and never deletes them."""
from __future__ import annotations

from typing import Optional

import pulumi

from platform_ops.cluster_check import ObjectRef


def keep_on_destroy(taken_over: set[ObjectRef]) -> pulumi.ResourceTransform:
    """A stack transform that marks each resource applying one of `taken_over` retain-on-delete: the
    stack applies over the object as if it had made it, and `pulumi destroy` leaves it, and what the
    stack did not make in it, on the cluster.

    A transform, not an option of each component: it reaches the objects that the provider expands
    from install.yaml and the cert-manager chart too."""
    def transform(args: pulumi.ResourceTransformArgs) -> Optional[pulumi.ResourceTransformResult]:
        if not args.custom or not args.type_.startswith("kubernetes:"):
            return None
        kind = args.type_.rsplit(":", 1)[-1]
        metadata = args.props.get("metadata") or {}
        name, namespace = metadata.get("name"), metadata.get("namespace")
        if not any(ref.kind == kind and ref.name == name and namespace in (None, ref.namespace)
                   for ref in taken_over):
            return None
        kept = pulumi.ResourceOptions(retain_on_delete=True)
        return pulumi.ResourceTransformResult(props=args.props, opts=pulumi.ResourceOptions.merge(args.opts, kept))
    return transform
