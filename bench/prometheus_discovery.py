"""Times the Prometheus discovery proof (tests/prometheus/test_discovery.py) outside pytest.

    .venv/bin/python -m bench.prometheus_discovery [STACK] [--runs N]

Prints, per run: seconds from starting prometheus to ready, to every target up, and to the
first 5xx-ratio recording rule result; and the whole proof (chart render, stand-in cluster,
Prometheus run, teardown). As in the proof, Prometheus runs a copy of the rendered ConfigMap that
scrapes and evaluates every second instead of at the stack's interval (nothing else differs), so
the figures show this machine, not the interval.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


from platform_ops.contract import OBSERVABILITY_NAMESPACE, PROMETHEUS_CONFIG_MAP
from platform_ops.paths import REPO_ROOT, tools_dir
from platform_ops.render.charts import ChartSource, Renderer, chart_applications
from platform_ops.render.program import render_stack
from testbed.discovery_proof import PROOF_INTERVAL, proof_run

# Seconds; the bound only stops a broken run.
TIMEOUT = 120
PAUSE = 0.02


def tool(name: str) -> str:
    path = tools_dir() / name
    if not path.is_file():
        sys.exit(f"{name} is not built: run `make tools` (looked in {path.parent})")
    return str(path)


def one_run(stack: str) -> dict[str, float]:
    began = time.monotonic()
    render = render_stack(stack)
    config_maps = [m for m in render.manifests if m["kind"] == "ConfigMap"
                   and (m["metadata"].get("namespace"), m["metadata"]["name"]) == (OBSERVABILITY_NAMESPACE, PROMETHEUS_CONFIG_MAP)]
    if len(config_maps) != 1:
        sys.exit(f"stack {stack} renders no ConfigMap {OBSERVABILITY_NAMESPACE}/{PROMETHEUS_CONFIG_MAP}: is the Prometheus component wired in __main__.py?")
    config_map = config_maps[0]
    sources = [ChartSource.from_application(a) for a in chart_applications(render.manifests)]
    [namespace] = {s.namespace for s in sources}
    with tempfile.TemporaryDirectory(prefix="prometheus-bench-") as tmp:
        with Renderer(REPO_ROOT, tool("helm"), Path(tmp) / "charts") as renderer:
            charts = {s.service: renderer.render(s) for s in sources}
        with proof_run(tool("prometheus"), config_map["data"], charts, namespace, Path(tmp) / "run") as run:
            p = run.prometheus
            p.wait_for("ready", p.ready, TIMEOUT, PAUSE)
            ready = time.monotonic() - p.started_at
            p.wait_for("all targets up", run.targets_once_all_up, TIMEOUT, PAUSE)
            up = time.monotonic() - p.started_at
            p.wait_for("recording rule data", lambda: len(p.query("job:http_requests_5xx:ratio_rate5m")) == 2,
                       TIMEOUT, PAUSE)
            rules = time.monotonic() - p.started_at
    return {"ready": ready, "up": up, "rules": rules, "total": time.monotonic() - began}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="dev")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = []
    print(f"stack {args.stack}, scrape and evaluation interval {PROOF_INTERVAL}")
    for i in range(args.runs):
        r = one_run(args.stack)
        results.append(r)
        print(f"run {i + 1}: prometheus start -> ready {r['ready']:.1f}s, -> all targets up {r['up']:.1f}s, "
              f"-> recording rule data {r['rules']:.1f}s; whole proof {r['total']:.1f}s")
    if args.runs > 1:
        for key, label in (("up", "start -> all targets up"), ("rules", "start -> rule data"),
                           ("total", "whole proof")):
            values = [r[key] for r in results]
            print(f"{label}: median {statistics.median(values):.1f}s, min {min(values):.1f}s, "
                  f"max {max(values):.1f}s over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
