"""The YAML files a user edits (stack files, Chart.yaml, values files) read with the line of every
key, so that each problem can name its place as `<file>:<line>: <key> <what is wrong>`.

A file that is not YAML raises ConfigError with one such line: the line where the parser stopped,
the key it was reading, and what it found. A key set twice in one mapping is refused too, as the
Pulumi CLI and Helm refuse it, rather than silently keeping the last value as PyYAML does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from platform_ops.config.errors import ConfigError

# A key's place in a document: the mapping keys (str) and sequence indexes (int) leading to it.
KeyPath = tuple[Union[str, int], ...]


def located(file: str, line: Optional[int]) -> str:
    """`file:line` when the line is known, else `file`: the start of every problem line."""
    return f"{file}:{line}" if line else file


def key_name(path: KeyPath) -> str:
    """A key path as problems write it: `ingress.host`, `dependencies[0].version`."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


@dataclass(frozen=True)
class YamlFile:
    """A parsed YAML file: its document and the (1-based) line of every key in it."""

    shown: str
    data: Any
    lines: Mapping[KeyPath, int]

    def line_of(self, path: KeyPath) -> Optional[int]:
        """The line of `path`, or of the nearest key above it that the file has."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: KeyPath, text: str) -> str:
        return f"{located(self.shown, self.line_of(path))}: {key_name(path)} {text}"


def read_yaml_file(path: Path, shown: str, key_prefix: KeyPath = ()) -> YamlFile:
    """Parse `path`, shown in messages as `shown`. Problems name keys without `key_prefix`
    (the stack file's `config` block, whose keys are the settings)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {error.start + 1})") from None
    except OSError as error:
        raise ConfigError(f"{shown}: cannot be read: {error.strerror}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise ConfigError(_syntax_problem(shown, text, error, key_prefix)) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _key_lines(shown, node, (), key_prefix, lines)
    return YamlFile(shown, data, lines)


def _key_lines(shown: str, node: yaml.Node, path: KeyPath, key_prefix: KeyPath,
               lines: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            # A key that is itself a mapping or list is valid YAML but names no setting.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            line = key_node.start_mark.line + 1
            if path + (key,) in lines:
                raise ConfigError(
                    f"{shown}:{line}: {key_name(_shown_path(path + (key,), key_prefix))} is set twice "
                    f"(first on line {lines[path + (key,)]})")
            lines[path + (key,)] = line
            _key_lines(shown, value_node, path + (key,), key_prefix, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _key_lines(shown, item, path + (index,), key_prefix, lines)


def _shown_path(path: KeyPath, key_prefix: KeyPath) -> KeyPath:
    return path[len(key_prefix):] if path[:len(key_prefix)] == key_prefix else path


def _syntax_problem(shown: str, text: str, error: yaml.YAMLError, key_prefix: KeyPath) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    # A quoted scalar or a flow collection that is never closed runs to the end of the file:
    # where it starts is the line to fix.
    if context_mark is not None and mark is not None and mark.index >= len(text.rstrip()):
        mark = context_mark
    what = f"{problem} {context}" if context else problem
    if mark is None:
        return f"{shown}: not valid YAML: {what}"
    path = _shown_path(_key_at(text, mark.index), key_prefix)
    subject = f"{key_name(path)} is not" if path else "not"
    return f"{shown}:{mark.line + 1}: {subject} valid YAML: {what} (column {mark.column + 1})"


def _key_at(text: str, index: int) -> KeyPath:
    """The key the parser was in at `index` of `text`, from the events it read before it."""
    # The open collections, innermost last: the path to each and, in a mapping, the key whose
    # value comes next (None while a key is expected); in a sequence, the index of the last item.
    stack: list[_Open] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if event.start_mark.index >= index:
                break
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                _value_read(stack)
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent,
                                    yaml.SequenceStartEvent)):
                if stack and stack[-1].is_mapping and stack[-1].key is None:
                    if isinstance(event, yaml.ScalarEvent):
                        stack[-1].key = event.value
                    continue
                if stack and not stack[-1].is_mapping:
                    stack[-1].index += 1
                if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    stack.append(_Open(_inner_path(stack), isinstance(event, yaml.MappingStartEvent)))
                else:
                    _value_read(stack)
    except yaml.YAMLError:
        pass
    return _inner_path(stack)


@dataclass
class _Open:
    path: KeyPath
    is_mapping: bool
    key: Optional[str] = None
    index: int = -1


def _inner_path(stack: list[_Open]) -> KeyPath:
    """The path of what the innermost open collection is reading."""
    if not stack:
        return ()
    inner = stack[-1]
    if inner.is_mapping:
        return inner.path + ((inner.key,) if inner.key is not None else ())
    return inner.path + ((inner.index,) if inner.index >= 0 else ())


def _value_read(stack: list[_Open]) -> None:
    """A mapping whose value was read expects its next key."""
    if stack and stack[-1].is_mapping:
        stack[-1].key = None
