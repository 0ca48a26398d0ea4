"""Offline render: run the Pulumi program under Pulumi's mock engine and write
every Kubernetes object it registers, as YAML, to build/render/<stack>/.

No Pulumi CLI, no cluster, no network. Secret values never reach the output:
they are written as "[secret]". Prints what should be running (services and
platform parts), also written to summary.md; the registered objects are listed
in objects.md. `--diff A B` prints what differs between two stacks and writes nothing.

    python scripts/render.py STACK [--out DIR] [--no-charts]
    python scripts/render.py --diff STACK OTHER
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import pulumi

from platform_ops.config import ConfigError, stack_file
from platform_ops.paths import REPO_ROOT
from platform_ops.render.charts import ChartRenderError, Renderer
from platform_ops.render.output import shown_path, stack_summary, write_render
from platform_ops.render.program import render_stack, summary_rows
from platform_ops.render.summary import diff_summaries


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?")
    parser.add_argument("--out", type=Path, help="output folder (default build/render/STACK)")
    parser.add_argument("--no-charts", action="store_true", help="skip rendering the charts with helm")
    parser.add_argument("--diff", nargs=2, metavar=("STACK", "OTHER"),
                        help="print what differs between two stacks (renders both, writes nothing)")
    args = parser.parse_args(argv)
    if bool(args.diff) == bool(args.stack):
        parser.error("give either a STACK to render or --diff STACK OTHER")
    if args.diff and (args.out or args.no_charts):
        parser.error("--diff takes no --out or --no-charts")

    try:
        if args.diff:
            return _diff(*args.diff)
        render = render_stack(args.stack)
        out_dir = args.out or REPO_ROOT / "build" / "render" / args.stack
        summary = write_render(render, out_dir, charts=not args.no_charts)
    except FileNotFoundError as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except pulumi.RunError as error:
        print(str(error), file=sys.stderr)
        return 1
    except ChartRenderError as error:
        print(f"render: {error}", file=sys.stderr)
        return 1
    where = shown_path(out_dir)
    print(summary, end="")
    print(f"\n{len(summary_rows(render))} objects of stack {args.stack} written to {where}, "
          f"listed in {where}/objects.md")
    return 0


def _diff(stack: str, other: str) -> int:
    for name in (stack, other):
        stack_file(name)  # an unknown stack fails before anything renders
    with Renderer(REPO_ROOT) as renderer:
        summaries = [stack_summary(name, renderer) for name in (stack, other)]
    print(diff_summaries(*summaries), end="")
    return 0

