"""Render every chart of an environment as Argo CD will and run the chart checks.

    python scripts/check_charts.py ENV [--charts-from DIR]

Release names, namespace and value files come from the Argo CD Applications of the environment's
offline render (make render). Uses the working tree, so a promotion can check the values it
is about to commit; --charts-from takes charts/ from another checkout. Exit status: 0 all checks pass, 1 a check or helm failed, 2 unknown environment.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from platform_ops.chart_checks.stack import check_stack
from platform_ops.config import ConfigError
from platform_ops.paths import REPO_ROOT, stack_file_path
from platform_ops.render.charts import ChartRenderError, Renderer, stack_manifests


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="check_charts.py", description=__doc__.strip().splitlines()[0])
    parser.add_argument("env", help="environment (stack) name")
    parser.add_argument("--charts-from", type=Path, default=REPO_ROOT, metavar="DIR",
                        help="repository whose charts/ to check (default: this one)")
    args = parser.parse_args(argv)
    stack = args.env
    if not stack_file_path(stack).is_file():
        print(f"check_charts: unknown environment {stack!r} (no Pulumi.{stack}.yaml)", file=sys.stderr)
        return 2
    try:
        manifests = stack_manifests(stack)
    except (ConfigError, pulumi.RunError) as error:
        # The stack file or a chart's files are not valid: one line per problem, as `make render`.
        print(error, file=sys.stderr)
        return 1
    try:
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
