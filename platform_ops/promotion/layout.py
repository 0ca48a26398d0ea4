"""Which environments and services exist, read from the repository itself.

Environments are the Pulumi stacks (`Pulumi.<stack>.yaml`), services the application charts
(`charts/<svc>/Chart.yaml` whose type is application). Nothing is listed by hand, so adding a
stack or a chart makes it promotable without touching this code.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import Refusal

_CHART_TYPE = re.compile(r"""type[ \t]*:[ \t]*(?P<q>["']?)(?P<type>[A-Za-z]+)(?P=q)[ \t]*(?:#.*)?""")


def environments(root: Path) -> list[str]:
    names = []
    for path in root.glob("Pulumi.*.yaml"):
        name = path.name[len("Pulumi."): -len(".yaml")]
        if name:
            names.append(name)
    return sorted(names)


def _chart_type(chart_yaml: Path) -> str:
    for line in chart_yaml.read_text(encoding="utf-8").splitlines():
        match = _CHART_TYPE.fullmatch(line)
        if match:
            return match.group("type")
    # Helm's default when Chart.yaml has no type.
    return "application"


def services(root: Path) -> list[str]:
    return sorted(
        chart_yaml.parent.name
        for chart_yaml in (root / "charts").glob("*/Chart.yaml")
        if _chart_type(chart_yaml) == "application"
    )


def check_environment(root: Path, env: str) -> str:
    known = environments(root)
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
