"""Fixtures shared by every test area: the repository root, the pinned tools
built by the Makefile, and the offline render of each stack."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def tool_path(name: str) -> str:
    """Path of a pinned tool that `make tools` builds into .tools/bin."""
    tools_dir = Path(os.environ.get("PLATFORM_OPS_TOOLS", REPO_ROOT / ".tools" / "bin"))
    candidate = tools_dir / name
    if candidate.is_file():
        return str(candidate)
    pytest.fail(f"{name} is not built: run `make tools` (looked in {tools_dir})", pytrace=False)


@pytest.fixture(scope="session")
def tool():
    return tool_path


@pytest.fixture(scope="session")
def rendered():
    """The offline render of a stack, computed once per stack per session."""
    from scripts.render import render_stack

    cache: dict[str, object] = {}

    def get(stack: str):
        if stack not in cache:
            cache[stack] = render_stack(stack)
        return cache[stack]

    return get
