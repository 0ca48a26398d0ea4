"""Which environments and services promotion accepts: the repository's stacks and application
charts (platform_ops/layout.py), so a new stack or chart is promotable without touching this code.
"""
from __future__ import annotations

from pathlib import Path

from platform_ops.layout import application_charts, stacks

from .errors import Refusal


def services(root: Path) -> list[str]:
    return application_charts(root / "charts")


def check_environment(root: Path, env: str) -> str:
    known = stacks(root)
    if env not in known:
        raise Refusal(f"unknown environment {env!r} (known: {', '.join(known) or 'none'})")
    return env


def check_service(root: Path, service: str) -> str:
    known = services(root)
    if service not in known:
        raise Refusal(f"unknown service {service!r} (known: {', '.join(known) or 'none'})")
    return service


def values_path(service: str, env: str) -> str:
    """Repository-relative path, as git and commit messages show it."""
    return f"charts/{service}/values-{env}.yaml"
