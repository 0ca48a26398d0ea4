"""Fixtures of the promotion tests: a seeded bare remote and clones of it.

The remote's promotion.yaml feeds every environment from CI, for the tests of the values-file and
push mechanics; a test of the path to prod takes the repository's own rules instead with
`@pytest.mark.parametrize("rules", [PROJECT_RULES])`, which overrides the `rules` fixture.
"""
from __future__ import annotations

import pytest

from testbed.promotion_repo import EVERY_ENV_FROM_CI, Clone, Remote


@pytest.fixture
def rules() -> str:
    return EVERY_ENV_FROM_CI


@pytest.fixture
def remote(tmp_path, rules) -> Remote:
    return Remote.create(tmp_path, rules=rules)


@pytest.fixture
def clone(remote) -> Clone:
    return remote.clone("work")
