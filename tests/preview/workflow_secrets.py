"""Which jobs of a workflow a pull request runs, and which secrets they reference.

A job that runs on `pull_request` (or `pull_request_target`) runs code anyone can push: it may use
the repository's GITHUB_TOKEN, whose rights the job's `permissions:` bound, and no other secret.
A secret is referenced as `secrets.NAME`, `secrets['NAME']`, the whole `secrets` context (as in
`toJSON(secrets)`), or handed to a reusable workflow with `secrets: inherit` or a `secrets:` map."""
from __future__ import annotations

import re
from typing import Any

import yaml

from tests.promote.workflow_checks import load

PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
ALLOWED = "GITHUB_TOKEN"
# Every mention of the secrets context, and the name it reads when it reads one by name.
_SECRETS = re.compile(r"""\bsecrets\b(?:\s*\.\s*(?P<dotted>[A-Za-z_][A-Za-z0-9_-]*)|\s*\[\s*['"](?P<quoted>[^'"]+)['"]\s*\])?""")


def triggers(workflow: dict) -> set[str]:
    on = workflow.get("on")
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return set(on)
    return set(on or {})


def referenced_secrets(value: Any) -> list[str]:
    """Each secret a job's text references: its name, or `secrets` for the whole context."""
    names = []
    for match in _SECRETS.finditer(yaml.safe_dump(value, sort_keys=False, width=1 << 20)):
        names.append(match.group("dotted") or match.group("quoted") or "secrets")
    return names


def pull_request_secrets(name: str, text: str) -> list[str]:
    """Problems: every secret other than GITHUB_TOKEN that a pull request's jobs can read."""
    workflow = load(text)
    if not triggers(workflow) & set(PULL_REQUEST_EVENTS):
        return []
    problems = [f"{name}: env: references secrets.{secret}" if secret != "secrets" else
                f"{name}: env: references the whole secrets context"
                for secret in referenced_secrets(workflow.get("env") or {}) if secret != ALLOWED]
    for job_name, job in (workflow.get("jobs") or {}).items():
        inherited = job.get("secrets")
        if inherited is not None:
            problems.append(f"{name}: job {job_name}: passes secrets to a reusable workflow")
        for secret in referenced_secrets({key: value for key, value in job.items() if key != "secrets"}):
            if secret == "secrets":
                problems.append(f"{name}: job {job_name}: references the whole secrets context")
            elif secret != ALLOWED:
                problems.append(f"{name}: job {job_name}: references secrets.{secret}")
    return problems
