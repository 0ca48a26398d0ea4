"""`make preview-diff`'s figures, each as a median: the control plane ready, the base brought up
(its offline render alongside), the head previewed (its render alongside), and the whole preview.
The base is this checkout's HEAD, the head its working tree, as `make preview-diff BASE=HEAD`.

    .venv/bin/python -m bench.preview [--runs 3] [--stack staging ...]

With several stacks, one run previews them one after the other, as the preview workflow does."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from platform_ops.contract import STACKS
from platform_ops.paths import REPO_ROOT, testbed_dir
from testbed.preview import Base, PreviewEngine, export_commit, resolve_base


def one_preview(stack: str, base_tree: Path, workdir: Path) -> dict[str, float]:
    figures = {}
    started = time.monotonic()
    with PreviewEngine(stack, testbed_dir(), workdir / "engine") as engine:
        figures["control plane ready"] = time.monotonic() - started
        mark = time.monotonic()
        base = Base(engine, base_tree, "HEAD", workdir)
        figures["base: pulumi up and render"] = time.monotonic() - mark
        mark = time.monotonic()
        outcome = base.preview(REPO_ROOT, "working tree")
        figures["head: pulumi preview and render"] = time.monotonic() - mark
    if outcome.head_error or outcome.base_error:
        raise SystemExit(f"preview of {stack} failed: {outcome.head_error or outcome.base_error}")
    figures[f"make preview-diff STACK={stack}"] = time.monotonic() - started
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stack", action="append", choices=STACKS, dest="stacks")
    args = parser.parse_args()
    stacks = args.stacks or ["staging"]
    runs: list[dict[str, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
            base_tree = Path(tmp) / "base"
            export_commit(REPO_ROOT, resolve_base(REPO_ROOT, "HEAD")[0], base_tree)
            figures: dict[str, float] = {}
            started = time.monotonic()
            for stack in stacks:
                for name, seconds in one_preview(stack, base_tree, Path(tmp) / stack).items():
                    figures[f"{stack}: {name}" if len(stacks) > 1 else name] = seconds
            if len(stacks) > 1:
                figures[f"{len(stacks)} stacks one after the other"] = time.monotonic() - started
        runs.append(figures)
    for name in runs[0]:
        seconds = [run[name] for run in runs]
        print(f"{name}: median {statistics.median(seconds):.1f} s (min {min(seconds):.1f}, max {max(seconds):.1f}, "
              f"{len(seconds)} runs)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
