"""Fixtures of the chart tests: every chart rendered once per stack, the way Argo CD renders it.

Release name, namespace and value files come from the Argo CD Applications of the offline render
(`rendered(stack).manifests`); the tests never restate them.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from platform_ops.render.charts import ChartSource, Renderer, chart_applications, load_manifests
from platform_ops.contract import STACKS

APPS = ("api-node", "core-go", "worker-python")
RENDERS = [(stack, app) for stack in STACKS for app in APPS]


def render_id(param) -> str:
    return "-".join(param)


@pytest.fixture(scope="session")
def helm(tool) -> str:
    return tool("helm")


@pytest.fixture(scope="session")
def renderer(helm, repo_root, tmp_path_factory):
    """One fresh checkout for the session, as an Argo CD repo server has."""
    with Renderer(repo_root, helm, tmp_path_factory.mktemp("argocd-checkout")) as r:
        yield r


@pytest.fixture(scope="session")
def sources(rendered):
    """stack -> app -> ChartSource, from the stack's Argo CD Applications."""
    cache: dict[str, dict[str, ChartSource]] = {}

    def get(stack: str) -> dict[str, ChartSource]:
        if stack not in cache:
            apps = [ChartSource.from_application(a) for a in chart_applications(rendered(stack).manifests)]
            cache[stack] = {s.service: s for s in apps}
        return cache[stack]

    return get


@pytest.fixture(scope="session")
def chart_text(renderer, sources):
    """(stack, app) -> helm template output, rendered once per session."""
    cache: dict[tuple[str, str], str] = {}

    def get(stack: str, app: str) -> str:
        if (stack, app) not in cache:
            cache[(stack, app)] = renderer.render_text(sources(stack)[app])
        return cache[(stack, app)]

    return get


@pytest.fixture(scope="session")
def chart_manifests(chart_text):
    """(stack, app) -> parsed manifests; a fresh copy per call, so a test may break it freely."""
    cache: dict[tuple[str, str], list[dict]] = {}

    def get(stack: str, app: str) -> list[dict]:
        if (stack, app) not in cache:
            cache[(stack, app)] = load_manifests(chart_text(stack, app))
        return copy.deepcopy(cache[(stack, app)])

    return get


@pytest.fixture(params=RENDERS, ids=render_id)
def each_render(request):
    """(stack, app) for each of the nine renders."""
    return request.param


@pytest.fixture(params=STACKS)
def each_stack(request):
    return request.param


@pytest.fixture(scope="session")
def chart_dirs(repo_root) -> list[Path]:
    return sorted(p.parent for p in (repo_root / "charts").glob("*/Chart.yaml"))


@pytest.fixture(scope="session")
def find():
    """find(manifests, kind[, name]): the one object of that kind (and name) in a render."""

    def one(manifests: list[dict], kind: str, name: str | None = None) -> dict:
        found = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    return one
