"""The Kubernetes API schema, strict: unknown fields are errors."""
from __future__ import annotations

from typing import Iterable

import kubernetes_validate

from platform_ops.chart_checks.manifests import ref
from platform_ops.contract import KUBE_VERSION

def check_kubernetes_schema(manifests: Iterable[dict], version: str = KUBE_VERSION) -> list[str]:
    """Every object is valid against the strict (unknown fields rejected) schema of Kubernetes `version`."""
    problems = []
    for obj in manifests:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            where = ".".join(str(p) for p in err.path) or "<root>"
            problems.append(f"{ref(obj)}: {where}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            problems.append(f"{ref(obj)}: {err.message}")
    return problems
