"""Render every chart of an environment as Argo CD will and run the chart checks.

    python scripts/check_charts.py ENV [--charts-from DIR]

Release names, namespace and value files come from the Argo CD Applications of the environment's
offline render (scripts/render.py). Uses the working tree, so a promotion can check the values it
is about to commit; --charts-from takes charts/ from another checkout. Exit status: 0 all checks pass, 1 a check or helm failed, 2 unknown environment.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from config import merged_values  # noqa: E402
from scripts import chart_checks  # noqa: E402
from scripts.render_charts import (  # noqa: E402
    ChartRenderError, ChartSource, Renderer, chart_applications, stack_manifests,
)


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
        tags[source.service] = str(merged_values(renderer.chart_dir(source), source.value_files)["image"]["tag"])
    namespaces = {a.namespace for a in apps}
    if len(namespaces) != 1:
        problems.append(f"{stack}: the apps are spread over namespaces {sorted(namespaces)}; "
                        f"CORE_GO_BASE_URL and the NetworkPolicies assume one")
    projects = [m for m in manifests if m.get("kind") == "AppProject"]
    problems += chart_checks.check_environment(
        renders, releases, sorted(namespaces)[0], tags, projects[0] if projects else None)
    problems += chart_checks.check_template_sources(
        sorted(p for p in (renderer.checkout / "charts").iterdir() if (p / "Chart.yaml").is_file()))
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check_charts.py", description=__doc__.strip().splitlines()[0])
    parser.add_argument("env", help="environment (stack) name")
    parser.add_argument("--charts-from", type=Path, default=REPO_ROOT, metavar="DIR",
                        help="repository whose charts/ to check (default: this one)")
    args = parser.parse_args(argv)
    stack = args.env
    if not (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file():
        print(f"check_charts: unknown environment {stack!r} (no Pulumi.{stack}.yaml)", file=sys.stderr)
        return 2
    try:
        manifests = stack_manifests(stack)
        with Renderer(args.charts_from) as renderer:
            problems = check_stack(stack, manifests, renderer)
    except ChartRenderError as err:
        problems = [str(err)]
    if problems:
        print(f"check_charts: {stack}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print("  - " + problem.replace("\n", "\n    "), file=sys.stderr)
        return 1
    print(f"check_charts: {stack}: all charts render and pass the checks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
