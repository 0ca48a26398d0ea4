"""The real-cluster tier's figures: control plane ready, first `pulumi up`,
a second `up` (no changes), and `pulumi destroy`, each as a median.

    .venv/bin/python -m bench.cluster [--runs 3] [--stack staging]

Each run starts its own control plane on loopback and stops it."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


from platform_ops.paths import REPO_ROOT, testbed_dir
from testbed.argocd_sync import PruneOnDelete
from testbed.controlplane import ControlPlane
from testbed.engine import PulumiProject
from testbed.stacks import CONTEXTS, SECRETS, cluster_ingress_class, local_sources


def one_run(stack: str, workdir: Path) -> dict[str, float]:
    testbed = testbed_dir()
    figures = {}
    started = time.monotonic()
    cluster = ControlPlane(tools=testbed, workdir=workdir / "cluster", contexts=CONTEXTS)
    (workdir / "cluster").mkdir()
    try:
        cluster.start()
        figures["control plane ready"] = time.monotonic() - started
        cluster.apply(cluster_ingress_class())
        project = PulumiProject(testbed=testbed, source=REPO_ROOT, workdir=workdir / "pulumi", stack=stack,
                                python=Path(sys.executable))
        (workdir / "pulumi").mkdir()
        project.prepare(local_sources(stack, testbed, cluster.kubeconfig), secrets=SECRETS[stack])
        figures[f"first pulumi up ({stack})"] = project.up().seconds
        figures["second pulumi up (no changes)"] = project.up("--expect-no-changes").seconds
        with PruneOnDelete(cluster, []):
            figures["pulumi destroy"] = project.destroy().seconds
    finally:
        cluster.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stack", default="staging", choices=("staging", "prod"))
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            runs.append(one_run(args.stack, Path(tmp)))
        print(f"run {index + 1}: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in runs[-1].items()),
              flush=True)
    for name in runs[0]:
        values = [run[name] for run in runs]
        print(f"{name}: median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f}, "
              f"{len(values)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
