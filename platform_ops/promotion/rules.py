"""Which environment promotes from which: the repository's promotion.yaml.

    environments:
      dev:
        from: ci        # images come from the applications' CI: `promote.py set`
      staging:
        from: dev       # only what dev runs: `promote.py copy --from dev --to staging`
      prod:
        from: staging

Every stack (Pulumi.<stack>.yaml) has exactly one source, `ci` or another stack, and following
the sources from any stack reaches `ci`: so prod can only ever run images that went through every
environment before it. The file is read with a small reader of exactly this shape of YAML
(standard library only: promotion runs before anything is installed) that gives every problem its
line; all problems are reported at once and nothing is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from platform_ops.layout import stacks

from .errors import Refusal

RULES_FILE = "promotion.yaml"
CI = "ci"
_TOP_KEYS = ("environments",)
_ENVIRONMENT_KEYS = ("from",)

_KEY_VALUE = re.compile(r"""(?P<key>[A-Za-z0-9_.-]+|"[A-Za-z0-9_.-]+"|'[A-Za-z0-9_.-]+')[ \t]*:"""
                        r"""(?:[ \t]+(?P<value>[^#\s'"][^\s#]*|"[^"\\]*"|'[^']*'))?[ \t]*(?:[ \t]#.*)?""")


class InvalidRules(Refusal):
    """promotion.yaml is wrong: one `file:line: key: message` line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Node:
    key: str
    line: int  # 1-based
    value: Optional[str]  # None for a mapping
    children: list["_Node"] = field(default_factory=list)
    child_indent: Optional[int] = None

    def child(self, key: str) -> Optional["_Node"]:
        return next((node for node in self.children if node.key == key), None)


def _parse(text: str, label: str) -> _Node:
    """The block mappings of `text` as a tree; the first line this reader cannot read with
    certainty (flow style, anchors, lists, tabs, odd indentation) is refused."""
    root = _Node("", 0, None)
    open_mappings: list[tuple[int, _Node]] = [(-1, root)]
    for number, line in enumerate(text.split("\n"), 1):
        body = line.rstrip("\r")
        stripped = body.lstrip(" ")
        if stripped == "" or stripped.startswith("#"):
            continue

        def refuse(message: str) -> InvalidRules:
            return InvalidRules([f"{label}:{number}: {message}"])

        if stripped.startswith("\t"):
            raise refuse("tab in indentation")
        match = _KEY_VALUE.fullmatch(stripped)
        if match is None:
            raise refuse("expected `key:` or `key: value` (block mappings only)")
        indent = len(body) - len(stripped)
        while open_mappings[-1][0] >= indent:
            open_mappings.pop()
        parent = open_mappings[-1][1]
        if parent.child_indent is None:
            parent.child_indent = indent
        elif indent != parent.child_indent:
            raise refuse("inconsistent indentation")
        key = match.group("key").strip("\"'")
        value = match.group("value")
        if parent.child(key) is not None:
            prefix = f"{_dotted(open_mappings[1:])}{key}"
            raise refuse(f"{prefix}: duplicate key")
        node = _Node(key, number, None if value is None else value.strip("\"'"))
        parent.children.append(node)
        if value is None:
            open_mappings.append((indent, node))
    return root


def _dotted(mappings: list[tuple[int, _Node]]) -> str:
    return "".join(f"{node.key}." for _, node in mappings)


@dataclass(frozen=True)
class Rules:
    """env -> its source: `ci` or another env."""

    sources: dict[str, str]
    label: str = RULES_FILE

    def check_set(self, env: str, service: str) -> None:
        source = self.sources[env]
        if source != CI:
            raise Refusal(
                f"{env} is fed by {source}, not by CI ({self.label}): set is refused; promote what "
                f"{source} runs with `scripts/promote.py copy --from {source} --to {env} --service {service}`"
            )

    def check_copy(self, from_env: str, to_env: str) -> None:
        source = self.sources[to_env]
        if source == from_env:
            return
        if source == CI:
            raise Refusal(
                f"{to_env} is fed by CI, not by {from_env} ({self.label}): copy is refused; "
                f"use `scripts/promote.py set --env {to_env}`"
            )
        raise Refusal(
            f"{to_env} is fed by {source}, not by {from_env} ({self.label}): copy is refused; "
            f"use `scripts/promote.py copy --from {source} --to {to_env}`"
        )

    def ci_fed(self) -> list[str]:
        return sorted(env for env, source in self.sources.items() if source == CI)


def load(root: Path) -> Rules:
    """The rules of the repository at `root`, checked against its stacks; InvalidRules otherwise."""
    path = root / RULES_FILE
    if not path.is_file():
        raise InvalidRules([f"{RULES_FILE}: missing: every environment needs a source "
                            f"(see docs/promotion.md)"])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRules([f"{RULES_FILE}: not UTF-8 text"]) from None
    return parse(text, stacks(root))


def parse(text: str, known_stacks: list[str], label: str = RULES_FILE) -> Rules:
    root = _parse(text, label)
    found: list[tuple[int, str]] = []

    def problem(line: Optional[int], key: str, message: str) -> None:
        found.append((line or 0, f"{label}:{line}: {key}: {message}" if line else f"{label}: {key}: {message}"))

    def refuse() -> InvalidRules:
        # In file order, so that the list reads like the file.
        return InvalidRules([text for _, text in sorted(found, key=lambda item: item[0])])

    for node in root.children:
        if node.key not in _TOP_KEYS:
            problem(node.line, node.key, f"unknown key (known: {', '.join(_TOP_KEYS)})")
    environments = root.child("environments")
    if environments is None:
        problem(None, "environments", "missing: a mapping of each environment to its source")
        raise refuse()
    if environments.value is not None or not environments.children:
        problem(environments.line, "environments", "must be a mapping of each environment to its source")
        raise refuse()

    sources: dict[str, str] = {}
    lines: dict[str, int] = {}
    for env in environments.children:
        key = f"environments.{env.key}"
        lines[env.key] = env.line
        if env.key == CI:
            problem(env.line, key, f"'{CI}' stands for the applications' CI and cannot be an environment")
            continue
        if env.key not in known_stacks:
            problem(env.line, key, f"no such environment: there is no Pulumi.{env.key}.yaml "
                                   f"(known: {', '.join(known_stacks) or 'none'})")
            continue
        if env.value is not None:
            problem(env.line, key, f"must be a mapping with `from: <{CI} or an environment>`")
            continue
        for child in env.children:
            if child.key not in _ENVIRONMENT_KEYS:
                problem(child.line, f"{key}.{child.key}", f"unknown key (known: {', '.join(_ENVIRONMENT_KEYS)})")
        source = env.child("from")
        if source is None:
            problem(env.line, f"{key}.from", f"missing: {CI} or the environment {env.key} promotes from")
        elif source.value is None or source.value == "":
            problem(source.line, f"{key}.from", f"must be {CI} or an environment, not a mapping or empty")
        elif source.value == env.key:
            problem(source.line, f"{key}.from", "an environment cannot promote from itself")
        elif source.value != CI and source.value not in known_stacks:
            problem(source.line, f"{key}.from", f"{source.value!r} is neither {CI} nor an environment "
                                                f"(known: {', '.join(known_stacks)})")
        else:
            sources[env.key] = source.value
    for stack in known_stacks:
        if stack not in lines and stack != CI:
            problem(environments.line, f"environments.{stack}",
                    f"missing: Pulumi.{stack}.yaml is a stack, so it needs a source")
    for cycle in _cycles(sources):
        first = min(cycle, key=lambda env: lines[env])
        start = cycle.index(first)
        ordered = cycle[start:] + cycle[:start]
        problem(lines[first], f"environments.{first}.from",
                f"{' <- '.join(ordered + [first])} is a cycle that never reaches {CI}")
    if found:
        raise refuse()
    return Rules(sources, label)


def _cycles(sources: dict[str, str]) -> list[list[str]]:
    """Each cycle of the env -> source graph once, as the envs met following the sources."""
    found: list[list[str]] = []
    done: set[str] = set()
    for start in sources:
        path: list[str] = []
        env = start
        while env in sources and env not in done and env not in path:
            path.append(env)
            env = sources[env]
        if env in path:
            found.append(path[path.index(env):])
        done.update(path)
    return found
