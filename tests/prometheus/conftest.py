"""Fixtures of the Prometheus tests.

The Prometheus objects come from the offline render of a stack (`rendered`), so the tests see
what the program really passes to the Prometheus component. Component-level tests that need other
arguments run the component alone under Pulumi's mocks (tests/prometheus/harness.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from components.prometheus import COMPONENT_TYPE, CONFIG_MAP
from platform_ops.render.charts import ChartSource, Renderer, chart_applications


@dataclass
class PrometheusRender:
    stack: str
    component: object          # the Prometheus component's registration
    children: list             # its registrations
    manifests: list[dict]      # the Kubernetes objects it creates
    chart_sources: list[ChartSource]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [m for m in self.manifests if m["kind"] == kind
                 and (name is None or m["metadata"]["name"] == name)]
        assert len(found) == 1, f"{len(found)} {kind} objects named {name}"
        return found[0]

    def all(self, kind: str) -> list[dict]:
        return [m for m in self.manifests if m["kind"] == kind]

    @property
    def config_map_data(self) -> dict[str, str]:
        return self.one("ConfigMap", CONFIG_MAP)["data"]


@pytest.fixture(scope="session")
def prometheus_render(rendered):
    """stack -> the Prometheus component of that stack's offline render."""
    from platform_ops.render.program import manifest

    cache: dict[str, PrometheusRender] = {}

    def get(stack: str) -> PrometheusRender:
        if stack not in cache:
            render = rendered(stack)
            components = render.of_type(COMPONENT_TYPE)
            if len(components) != 1:
                pytest.fail(f"stack {stack} registers {len(components)} {COMPONENT_TYPE} components, "
                            f"expected 1 (wired in __main__.py)", pytrace=False)
            component = components[0]
            children = [r for r in render.resources if r.parent == component.urn]
            manifests = [manifest(r) for r in children if r.is_kubernetes_object]
            sources = [ChartSource.from_application(a) for a in chart_applications(render.manifests)]
            cache[stack] = PrometheusRender(stack, component, children, manifests, sources)
        return cache[stack]

    return get


@pytest.fixture(scope="session")
def promtool(tool) -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def prometheus_binary(tool) -> str:
    return tool("prometheus")


@pytest.fixture(scope="session")
def chart_renders(tool, repo_root, tmp_path_factory, prometheus_render):
    """stack -> app -> manifests, rendered from the stack's Argo CD Applications as Argo CD does."""
    cache: dict[str, dict[str, list[dict]]] = {}
    renderer = Renderer(repo_root, tool("helm"), tmp_path_factory.mktemp("charts-checkout"))

    def get(stack: str) -> dict[str, list[dict]]:
        if stack not in cache:
            cache[stack] = {s.service: renderer.render(s) for s in prometheus_render(stack).chart_sources}
        return cache[stack]

    yield get
    renderer.close()
