"""`make help` lists every target of the Makefile, one line each."""
from __future__ import annotations

import collections
import os
import re
import subprocess

import pytest

MAKE = "/usr/bin/make"


def phony_targets(makefile: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", makefile)
    return [target for line in joined.splitlines() if line.startswith(".PHONY:")
            for target in line.split(":", 1)[1].split()]


@pytest.fixture(scope="module")
def help_lines(repo_root, tmp_path_factory):
    # Nothing from the environment of the tests (MAKEFLAGS of an outer make, for one).
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path_factory.mktemp("home"))}
    result = subprocess.run([MAKE, "--no-print-directory", "help"], cwd=repo_root, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.splitlines()


def test_every_phony_target_has_exactly_one_line(repo_root, help_lines):
    listed = collections.Counter(line.split()[1] for line in help_lines if line.startswith("make "))
    targets = phony_targets((repo_root / "Makefile").read_text())
    assert targets
    assert {target: listed[target] for target in targets} == {target: 1 for target in targets}


def test_diff_stacks_is_listed_with_its_two_stacks(help_lines):
    assert "make diff-stacks STACK=dev STACK2=prod   what differs between two stacks" in help_lines

