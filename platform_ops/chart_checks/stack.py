"""The chart checks for one stack: every chart Application linted, rendered as Argo CD will render
it, and checked together (scripts/check_charts.py, and the promotion gate through it)."""
from __future__ import annotations

from platform_ops.chart_checks.environment import check_environment
from platform_ops.chart_checks.gitops import check_template_sources
from platform_ops.config import merged_values
from platform_ops.render.charts import ChartRenderError, ChartSource, Renderer, chart_applications


def check_stack(stack: str, manifests: list[dict], renderer: Renderer) -> list[str]:
    """Lint, render and check every chart Application of one stack; the problems found."""
    apps = [ChartSource.from_application(a) for a in chart_applications(manifests)]
    if not apps:
        return [f"{stack}: no Argo CD Application renders a chart"]
    problems, renders, releases, tags = [], {}, {}, {}
    for source in apps:
        try:
            renders[source.service] = renderer.render(source)
            renderer.lint(source)
        except ChartRenderError as err:
            problems.append(str(err))
            continue
        releases[source.service] = source.release
        image = merged_values(renderer.chart_dir(source), source.value_files)["image"]
        tags[source.service] = (str(image["tag"]), str(image.get("digest") or ""))
    namespaces = {a.namespace for a in apps}
    if len(namespaces) != 1:
        problems.append(f"{stack}: the apps are spread over namespaces {sorted(namespaces)}; "
                        f"CORE_GO_BASE_URL and the NetworkPolicies assume one")
    # The project the Applications belong to; Argo CD's emptied default project is another.
    used = {application["spec"]["project"] for application in chart_applications(manifests)}
    projects = [m for m in manifests if m.get("kind") == "AppProject" and m["metadata"]["name"] in used]
    problems += check_environment(
        renders, releases, sorted(namespaces)[0], tags, projects[0] if projects else None)
    problems += check_template_sources(
        sorted(p for p in (renderer.checkout / "charts").iterdir() if (p / "Chart.yaml").is_file()))
    return problems
