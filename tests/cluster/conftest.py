"""The real-cluster tier: one control plane on loopback per test process (each
pytest-xdist worker has its own), started before its first test of this folder
and always stopped.

A failing test's report ends with the tail of each component's log."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from testbed.controlplane import ControlPlane, ControlPlaneError
from platform_ops.paths import testbed_dir
from testbed.stacks import CONTEXTS

# The running control plane, for the failure reports of every test of the tier.
_running: list[ControlPlane] = []


@pytest.fixture(scope="session")
def testbed() -> Path:
    path = testbed_dir()
    missing = [name for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
                                 "kwok", "pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")
               if not (path / name).is_file()]
    if missing:
        pytest.fail(f"not built in {path}: {', '.join(missing)}: run `make testbed`", pytrace=False)
    return path


@pytest.fixture(scope="session")
def cluster(testbed, request):
    workdir = Path(tempfile.mkdtemp(prefix="platform-ops-cluster-"))
    plane = ControlPlane(tools=testbed, workdir=workdir, contexts=CONTEXTS)
    try:
        plane.start()
    except ControlPlaneError:
        plane.stop()
        raise
    _running.append(plane)
    yield plane
    _running.remove(plane)
    plane.stop()
    if request.session.testsfailed:
        print(f"\ncontrol plane logs kept in {workdir / 'logs'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _running:
        report.sections.append(("control plane logs", _running[0].log_tails()))
