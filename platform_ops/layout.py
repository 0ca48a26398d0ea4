"""Which stacks and services exist, read from the repository itself.

Stacks (environments) are the Pulumi stack files `Pulumi.<stack>.yaml`; services are the
application charts, `charts/<service>/Chart.yaml` whose type is application (Helm's default).
Nothing is listed by hand, so a new stack file or chart is a new stack or service everywhere:
in the program's config, in promotion and in the tests.

Standard library only: promotion runs before anything is installed.
"""
from __future__ import annotations

import re
from pathlib import Path

# A top-level `type:` line of Chart.yaml, quoted or not, with an optional comment.
_CHART_TYPE = re.compile(r"""type[ \t]*:[ \t]*(?P<q>["']?)(?P<type>[A-Za-z]+)(?P=q)[ \t]*(?:#.*)?""")


def stacks(root: Path) -> list[str]:
    """The stacks of the repository at `root`: one per Pulumi.<stack>.yaml."""
    names = []
    for path in root.glob("Pulumi.*.yaml"):
        name = path.name[len("Pulumi."): -len(".yaml")]
        if name:
            names.append(name)
    return sorted(names)


def chart_type(chart_yaml: Path) -> str:
    # Undecodable bytes are replaced, not fatal: the config check names them with the file.
    for line in chart_yaml.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _CHART_TYPE.fullmatch(line)
        if match:
            return match.group("type")
    # Helm's default when Chart.yaml has no type.
    return "application"


def application_charts(charts_dir: Path) -> list[str]:
    """Names of the application charts in `charts_dir` (library charts are building blocks,
    not services)."""
    return sorted(chart_yaml.parent.name for chart_yaml in charts_dir.glob("*/Chart.yaml")
                  if chart_type(chart_yaml) == "application")
