"""The test runner keeps each xdist_group on one worker: a stack's real-cluster cycle relies on it
(its tests run in order against one control plane), and a pytest or pytest-xdist upgrade can
silently stop it (pytest 9.2 with pytest-xdist 3.8.0 does)."""
from __future__ import annotations

import os
import subprocess
import sys

GROUPED_TESTS = '''
import os
import pytest

@pytest.fixture(scope="module", params=[pytest.param(stack, marks=pytest.mark.xdist_group(f"cycle-{stack}"))
                                        for stack in ("staging", "prod")])
def stack(request):
    return request.param

@pytest.mark.parametrize("step", range(4))
def test_step(stack, step):
    with open(os.environ["WORKERS_LOG"], "a") as log:
        log.write(f"{stack} {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''


def test_each_stacks_cycle_runs_on_one_worker_and_the_two_side_by_side(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    log = tmp_path / "workers.log"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                             "--dist", "loadgroup", "test_grouped.py"], cwd=tmp_path,
                            env={**os.environ, "WORKERS_LOG": str(log)}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    workers: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        stack, worker = line.split()
        workers.setdefault(stack, set()).add(worker)
    assert {stack: len(names) for stack, names in workers.items()} == {"staging": 1, "prod": 1}
    assert workers["staging"] != workers["prod"]
