"""The render is the same bytes for every user on every machine: two users (two home folders) render
the same commit in two checkouts at different paths, and get the same trees and the same output."""
from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.platform.test_render_cli import copy_project

# Every test reads the same four renders: one worker makes them once (pytest-xdist group).
pytestmark = pytest.mark.xdist_group("two-users-render")

# A Kind stack and an existing-cluster stack (whose kubeconfig path starts with ~).
STACKS = ("dev", "prod")


def render_as(user: Path, project: Path, stack: str, tools: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(user),
        "USER": user.name,
        "LOGNAME": user.name,
        "PLATFORM_OPS_TOOLS": tools,
    }
    return subprocess.run([sys.executable, "scripts/render.py", stack], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_users(repo_root, tool, tmp_path_factory):
    """For each user: (home, checkout, {stack: completed render})."""
    tools = str(Path(tool("helm")).parent)
    root = tmp_path_factory.mktemp("users")
    out = []
    for user, checkout in (("alice", "work/platform-ops"), ("bob", "src/a/much/longer/path/to/platform-ops")):
        home = root / user
        home.mkdir()
        project = copy_project(repo_root, home / checkout)
        (project / "Pulumi.prod.yaml").write_bytes((repo_root / "Pulumi.prod.yaml").read_bytes())
        out.append((home, project, {stack: render_as(home, project, stack, tools) for stack in STACKS}))
    return out


def written(project: Path, stack: str) -> dict[str, bytes]:
    tree = project / "build" / "render" / stack
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", STACKS)
def test_two_users_in_two_folders_write_byte_identical_renders(two_users, stack):
    (_, first, first_runs), (_, second, second_runs) = two_users
    assert first_runs[stack].returncode == 0, first_runs[stack].stderr
    assert second_runs[stack].returncode == 0, second_runs[stack].stderr
    a, b = written(first, stack), written(second, stack)
    assert sorted(a) == sorted(b)
    differing = {name: [line for line in difflib.unified_diff(a[name].decode().splitlines(),
                                                             b[name].decode().splitlines(), lineterm="", n=0)
                        if line[:1] in "+-" and line[:3] not in ("+++", "---")]
                 for name in a if a[name] != b[name]}
    assert differing == {}


@pytest.mark.parametrize("stack", STACKS)
def test_two_users_in_two_folders_are_printed_byte_identical_summaries(two_users, stack):
    (_, _, first_runs), (_, _, second_runs) = two_users
    assert (first_runs[stack].stdout, first_runs[stack].stderr) == (second_runs[stack].stdout,
                                                                    second_runs[stack].stderr)


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_written_or_printed_names_the_home_or_the_checkout_folder(two_users, stack):
    for home, project, runs in two_users:
        texts = {f"written {name}": data.decode() for name, data in written(project, stack).items()}
        texts.update({"printed": runs[stack].stdout + runs[stack].stderr})
        leaks = {where: folder for where, text in texts.items()
                 for folder in (str(home), str(project)) if folder in text}
        assert leaks == {}
