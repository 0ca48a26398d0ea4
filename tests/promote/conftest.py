"""Fixtures of the promotion tests: a seeded bare remote and clones of it."""
from __future__ import annotations

import pytest

from testbed.promotion_repo import Clone, Remote


@pytest.fixture
def remote(tmp_path) -> Remote:
    return Remote.create(tmp_path)


@pytest.fixture
def clone(remote) -> Clone:
    return remote.clone("work")
