"""Checks over an offline render, as plain functions: each returns the problems it finds."""
from __future__ import annotations

import json
from typing import Iterable

from platform_ops.render.program import Render

KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def off_the_stack_provider(render: Render, provider_name: str = "kubernetes") -> list[str]:
    """Kubernetes resources that do not go through a provider of the stack's cluster
    (a default provider would use whatever kubeconfig the user has)."""
    providers = {r.urn: r for r in render.of_type(KUBERNETES_PROVIDER)}
    identifier = render.named(provider_name).inputs["clusterIdentifier"]
    problems = []
    for resource in render.resources:
        if not resource.type.startswith("kubernetes:"):
            continue
        provider = providers.get(resource.provider.rsplit("::", 1)[0])
        if provider is None:
            problems.append(f"{resource.name}: no explicit Kubernetes provider")
        elif provider.inputs.get("clusterIdentifier") != identifier:
            problems.append(f"{resource.name}: provider {provider.name} is for another cluster")
        elif provider.inputs.get("enableServerSideApply") != "true":
            problems.append(f"{resource.name}: provider {provider.name} does not use server-side apply")
    return problems


def leaked(render: Render, values: Iterable[str]) -> list[str]:
    """Secret values that show anywhere a person or a file could read them."""
    shown = {
        "manifests": json.dumps(render.manifests),
        "patches": json.dumps(render.patches),
        "outputs": json.dumps(render.outputs),
        "log": "\n".join(render.log),
    }
    return [f"{value[:4]}... shows in {where}" for value in values for where, text in shown.items() if value in text]


def not_after(render: Render, types: Iterable[str], dependency: str) -> list[str]:
    """Resources of `types` that do not depend on the resource named `dependency`."""
    urn = render.named(dependency).urn
    return [f"{r.name} does not depend on {dependency}"
            for t in types for r in render.of_type(t) if urn not in r.dependencies]
