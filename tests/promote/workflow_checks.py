"""Checks on GitHub Actions workflows that actionlint does not make: supply-chain pinning and
script injection. Each returns a list of problems (empty when the workflow is fine)."""
from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
_PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}")
_VERSION_COMMENT = re.compile(r"\s+# v\d+\.\d+\.\d+\s*$")


def load(text: str) -> dict:
    workflow = yaml.safe_load(text)
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def unpinned_actions(text: str) -> list[str]:
    """Every third-party action must be pinned by full commit SHA with its version as a comment:
    a tag can be moved to other code, a SHA cannot."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _USES.match(line)
        if not match:
            continue
        ref, comment = match.group("ref").strip("'\""), match.group("comment")
        if ref.startswith(("./", "docker://")):
            continue
        if not _PINNED.fullmatch(ref):
            problems.append(f"line {number}: {ref} is not pinned to a full commit SHA")
        elif not _VERSION_COMMENT.fullmatch(comment):
            problems.append(f"line {number}: {ref} has no '# vX.Y.Z' comment naming the pinned version")
    return problems


def steps(workflow: dict) -> Iterator[tuple[str, dict]]:
    for job_name, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            yield f"{job_name}.steps[{index}]", step


def expressions_in_scripts(workflow: dict) -> list[str]:
    """`${{ }}` inside a shell script or a github-script body is expanded into the code before
    it runs, so a crafted input becomes code; values must arrive through `env:` instead."""
    problems = []
    for where, step in steps(workflow):
        if "${{" in str(step.get("run", "")):
            problems.append(f"{where}: expression inside run")
        if str(step.get("uses", "")).startswith("actions/github-script@") and \
                "${{" in str((step.get("with") or {}).get("script", "")):
            problems.append(f"{where}: expression inside github-script")
    return problems


def find_step(workflow: dict, predicate) -> dict:
    matches = [step for _, step in steps(workflow) if predicate(step)]
    assert len(matches) == 1, f"expected exactly one matching step, found {len(matches)}"
    return matches[0]


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
