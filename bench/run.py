"""Benchmarks: print figures, assert nothing.

    make bench                          # all of them
    .venv/bin/python -m bench.run render charts   # from the repository root
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

from platform_ops.contract import STACKS
from platform_ops.paths import REPO_ROOT
from platform_ops.render.charts import chart_applications, render_all, total_requests
from platform_ops.render.program import render_stack

PYTHON = sys.executable


def report(name: str, seconds: list[float]) -> None:
    print(f"{name}: median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, "
          f"max {max(seconds):.2f}, {len(seconds)} runs)", flush=True)


def timed(command: list[str], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def bench_render() -> None:
    out = REPO_ROOT / "build" / "bench-render"
    report("offline render of stack dev, without charts (scripts/render.py dev --no-charts)",
           timed([PYTHON, "scripts/render.py", "dev", "--no-charts", "--out", str(out)], runs=5))
    report("offline render of stack dev, with its three charts (scripts/render.py dev)",
           timed([PYTHON, "scripts/render.py", "dev", "--out", str(out)], runs=5))


def bench_charts() -> None:
    applications = {stack: chart_applications(render_stack(stack).manifests) for stack in STACKS}
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        renders = render_all(applications)
        seconds.append(time.perf_counter() - start)
    report("nine chart renders, fresh checkout and dependency builds included", seconds)
    dev = [m for (stack, _), manifests in renders.items() if stack == "dev" for m in manifests]
    requests = total_requests(dev)
    print(f"dev workloads request {requests['cpu'] * 1000:.0f}m CPU and {requests['memory'] / 2**20:.0f}Mi memory")


def bench_test_tiers() -> None:
    """The tiers as `make` runs them: on every core, one control plane per worker for the cluster tier."""
    report("offline tiers (make test-offline)", timed(["make", "--no-print-directory", "test-offline"], runs=5))
    report("real-cluster tier (make test-cluster)", timed(["make", "--no-print-directory", "test-cluster"], runs=3))


def bench_module(module: str):
    def run() -> None:
        subprocess.run([PYTHON, "-m", f"bench.{module}"], cwd=REPO_ROOT, check=True)
    return run


BENCHES = {
    "render": bench_render,
    "charts": bench_charts,
    "promote": bench_module("promote"),
    "prometheus": bench_module("prometheus_discovery"),
    "cluster": bench_module("cluster"),
    "preview": bench_module("preview"),
    "tests": bench_test_tiers,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(BENCHES):
        BENCHES[name]()
