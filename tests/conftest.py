"""Fixtures shared by every test area: the repository root, the pinned tools
built by the Makefile, and the offline render of each stack."""
from __future__ import annotations

from pathlib import Path

import pytest

from platform_ops.paths import REPO_ROOT, tools_dir
from platform_ops.render.program import render_stack


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def tool_path(name: str) -> str:
    """Path of a pinned tool that `make tools` builds into .tools/bin."""
    candidate = tools_dir() / name
    if candidate.is_file():
        return str(candidate)
    pytest.fail(f"{name} is not built: run `make tools` (looked in {tools_dir()})", pytrace=False)


@pytest.fixture(scope="session")
def tool():
    return tool_path


@pytest.fixture(scope="session")
def rendered():
    """The offline render of a stack, computed once per stack per session."""
    cache: dict[str, object] = {}

    def get(stack: str):
        if stack not in cache:
            cache[stack] = render_stack(stack)
        return cache[stack]

    return get
