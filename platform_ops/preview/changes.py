"""`pulumi preview --diff --json` read as a reviewer reads it: how many resources each operation
touches, and for each changed resource, each changed property with its old and new value.

The engine prints secret values as "[secret]" (or, in state, as its secret envelope): a property
at or under a secret shows as [secret], never its value."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

SECRET = "[secret]"
ABSENT = "(absent)"
# How Pulumi marks a secret value in serialized state.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
STACK_TYPE = "pulumi:pulumi:Stack"
# Longer values are cut: a table cell, not a dump.
VALUE_WIDTH = 160
# Operations in the order a reviewer weighs them.
OPERATION_ORDER = ("delete", "replace", "create-replacement", "delete-replaced", "update", "create",
                   "import", "read", "refresh", "same")

_PATH_TOKEN = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class PreviewOutputError(ValueError):
    """The engine's output is not the JSON of `pulumi preview --json`."""


@dataclass(frozen=True)
class PropertyChange:
    path: str
    kind: str  # add, delete, update, and their -replace forms
    old: str
    new: str


@dataclass(frozen=True)
class ResourceChange:
    op: str
    type: str
    name: str
    # namespace/name of a Kubernetes object, "" for anything else.
    object: str
    properties: tuple[PropertyChange, ...]


@dataclass(frozen=True)
class PulumiChanges:
    counts: dict[str, int]  # operation -> resources
    resources: tuple[ResourceChange, ...]

    @property
    def changed(self) -> bool:
        return any(op != "same" and count for op, count in self.counts.items())


def split_path(path: str) -> list[Any]:
    """`spec.containers[0].args[2]` or `data[".dockerconfigjson"]` as keys and indexes."""
    parts: list[Any] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if not match or match.end() == position:
            raise PreviewOutputError(f"property path {path!r}: cannot read at character {position}")
        name, index, quoted = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(name)
        position = match.end()
    return parts


def _is_secret(value: Any) -> bool:
    return value == SECRET or (isinstance(value, dict) and SECRET_SIGNATURE in value)


def value_at(state: Optional[dict], path: list[Any]) -> Any:
    """The value at `path`, SECRET if a secret is on the way, ABSENT if there is none."""
    current: Any = state if state is not None else ABSENT
    for part in path:
        if _is_secret(current):
            return SECRET
        if isinstance(part, int) and isinstance(current, list) and part < len(current):
            current = current[part]
        elif isinstance(part, str) and isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return ABSENT
    return SECRET if _is_secret(current) or _contains_secret(current) else current


def _contains_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secret(item) for item in value)
    return False


def show(value: Any) -> str:
    if value in (SECRET, ABSENT):
        return value
    text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def _old_value(step: dict, path: list[Any]) -> Any:
    old = step.get("oldState") or {}
    value = value_at(old.get("inputs"), path)
    return value_at(old.get("outputs"), path) if value == ABSENT else value


def _object(step: dict) -> str:
    for state in (step.get("newState"), step.get("oldState")):
        metadata = ((state or {}).get("inputs") or {}).get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
            namespace = metadata.get("namespace")
            return f"{namespace}/{metadata['name']}" if isinstance(namespace, str) else metadata["name"]
    return ""


def resource_change(step: dict) -> ResourceChange:
    urn = step["urn"]
    type_, name = urn.split("::")[2].rsplit("$", 1)[-1], urn.split("::")[3]
    properties = []
    if step["op"] not in ("create", "delete"):
        detailed = step.get("detailedDiff")
        if detailed is None:
            detailed = {key: {"kind": "update"} for key in step.get("diffReasons") or []}
        for key in sorted(detailed):
            path = split_path(key)
            new_value = value_at((step.get("newState") or {}).get("inputs"), path)
            properties.append(PropertyChange(key, detailed[key].get("kind", "update"),
                                             show(_old_value(step, path)), show(new_value)))
    return ResourceChange(step["op"], type_, name, _object(step), tuple(properties))


def read_preview(text: str) -> PulumiChanges:
    """The changes of `pulumi preview --diff --json`'s output."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PreviewOutputError(f"pulumi preview --json printed no JSON: {error}") from None
    if not isinstance(document, dict):
        raise PreviewOutputError("pulumi preview --json printed no JSON object")
    steps = [step for step in document.get("steps") or []
             if step.get("op") != "same" and STACK_TYPE not in step.get("urn", "")]
    counts = {op: count for op, count in (document.get("changeSummary") or {}).items() if count}
    order = {op: index for index, op in enumerate(OPERATION_ORDER)}
    resources = sorted((resource_change(step) for step in steps),
                       key=lambda change: (order.get(change.op, len(order)), change.type, change.name))
    return PulumiChanges(counts, tuple(resources))


def _error_messages(output: str) -> list[str]:
    try:
        document = json.loads(output)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        return [d.get("message", "") for d in document.get("diagnostics") or [] if d.get("severity") == "error"]
    messages = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("error: "):
            indent = len(line) - len(line.lstrip())
            # A message of several lines goes on, indented deeper than its "error:".
            more = []
            for follow in lines[index + 1:]:
                if follow.strip() and len(follow) - len(follow.lstrip()) > indent:
                    more.append(follow.strip())
                else:
                    break
            messages.append("\n".join([stripped, *more]))
    return messages


def first_error(*outputs: str) -> str:
    """The program's own error from the engine's outputs (JSON or text, stdout then stderr): its
    message, without the engine's "an unhandled error occurred" line that follows every failing
    program; else the last line the engine printed."""
    for output in outputs:
        for message in _error_messages(output):
            text = message.strip()
            text = text[len("error: "):] if text.startswith("error: ") else text
            if text and not text.startswith("an unhandled error occurred"):
                return text
    tail = [line.strip() for output in outputs for line in output.splitlines() if line.strip()]
    return tail[-1] if tail else "the engine failed and printed nothing"
