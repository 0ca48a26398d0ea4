"""Reading and rewriting image.repository / image.tag / image.digest in a values file, byte for byte.

A YAML round trip would drop comments, reorder keys and requote scalars, and a regex over the
whole file would also hit a sidecar's `tag:`. So this locates the top-level `image:` block by
indentation, finds exactly its `repository:`, `tag:` and (optional) `digest:` lines, and replaces
only the scalar token on those lines; a digest line is added right after the tag line, or removed.
Anything it cannot read with certainty (flow mappings, anchors, block scalars, multi-line values,
duplicate keys) is refused rather than guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import Refusal

_TOP_LEVEL_IMAGE = re.compile(r"""(?:image|"image"|'image')[ \t]*:(?P<rest>.*)""")
_ONLY_COMMENT = re.compile(r"(?:[ \t]+#.*)?[ \t]*")
_KEY = re.compile(r"""(?P<key>[A-Za-z0-9_.-]+|"[^"\\]*"|'[^']*')[ \t]*:(?=[ \t]|$)""")
_DOUBLE = re.compile(r'"(?:[^"\\]|\\.)*"')
_SINGLE = re.compile(r"'(?:[^']|'')*'")
_TRAILER = re.compile(r"[ \t]*(?:#.*)?")
_PLAIN_INDICATORS = set("|>&*!{[%@`")
_ESCAPES = {"\\": "\\", '"': '"', "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]*")


@dataclass(frozen=True)
class Scalar:
    """One `key: value` line of the image block."""

    line: int  # index into the file's lines
    value: str  # decoded value
    style: str  # "double", "single", "plain" or "empty"
    start: int  # span of the value token inside the line (without line ending)
    end: int


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    digest: str = ""  # sha256:<hex> of the tag's image when CI gave it, pinning exactly that image


def _split_lines(text: str) -> list[str]:
    """Lines with their endings kept; unlike str.splitlines, only '\n' ends a line."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _body(line: str) -> tuple[str, str]:
    for ending in ("\r\n", "\n"):
        if line.endswith(ending):
            return line[: -len(ending)], ending
    return line, ""


def _is_blank_or_comment(body: str) -> bool:
    stripped = body.lstrip(" \t")
    return stripped == "" or stripped.startswith("#")


def _indent(body: str) -> int:
    return len(body) - len(body.lstrip(" "))


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        return key[1:-1]
    return key


def _decode_double(token: str) -> str:
    out: list[str] = []
    i, inner = 0, token[1:-1]
    while i < len(inner):
        char = inner[i]
        if char == "\\" and i + 1 < len(inner):
            out.append(_ESCAPES.get(inner[i + 1], "\\" + inner[i + 1]))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class ValuesFile:
    """A values-<env>.yaml file held as text, with its promotable lines located."""

    def __init__(self, path: Path, text: str, label: Optional[str] = None):
        self.path = path
        self.label = label or str(path)
        self.text = text
        self.lines = _split_lines(text)
        self._repository, self._tag, self._digest = self._locate()

    @classmethod
    def load(cls, path: Path, label: Optional[str] = None) -> "ValuesFile":
        shown = label or str(path)
        if not path.is_file():
            raise Refusal(f"{shown} does not exist")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(f"{shown} is not UTF-8 text") from None
        return cls(path, text, shown)

    def _refuse(self, line: Optional[int], what: str) -> Refusal:
        where = f"{self.label}:{line + 1}" if line is not None else self.label
        return Refusal(f"{where}: {what}")

    def _locate(self) -> tuple[Scalar, Scalar, Optional[Scalar]]:
        image_line = None
        for index, line in enumerate(self.lines):
            body, _ = _body(line)
            if body.startswith((" ", "\t")) or _is_blank_or_comment(body):
                continue
            match = _TOP_LEVEL_IMAGE.fullmatch(body)
            if match is None:
                continue
            if image_line is not None:
                raise self._refuse(index, "duplicate top-level image key")
            if not _ONLY_COMMENT.fullmatch(match.group("rest")):
                raise self._refuse(
                    index, "top-level image must be a block mapping with repository and tag lines"
                )
            image_line = index
        if image_line is None:
            raise self._refuse(None, "no top-level image mapping")

        child_indent = None
        found: dict[str, Scalar] = {}
        nested: set[str] = set()
        previous_key = None
        for index in range(image_line + 1, len(self.lines)):
            body, _ = _body(self.lines[index])
            if _is_blank_or_comment(body):
                continue
            if not body.startswith((" ", "\t")):
                break  # the next top-level key ends the block
            if body[: len(body) - len(body.lstrip(" \t"))].count("\t"):
                raise self._refuse(index, "tab in indentation")
            indent = _indent(body)
            if child_indent is None:
                child_indent = indent
            if indent > child_indent:
                if previous_key is not None:
                    nested.add(previous_key)
                continue
            if indent < child_indent:
                raise self._refuse(index, "inconsistent indentation in the image block")
            key_match = _KEY.match(body, indent)
            if key_match is None:
                raise self._refuse(index, "unexpected content in the image block")
            key = _unquote_key(key_match.group("key"))
            previous_key = key
            if key not in ("repository", "tag", "digest"):
                continue
            if key in found:
                raise self._refuse(index, f"duplicate image.{key}")
            found[key] = self._scalar(index, body, key_match.end(), key)
        if child_indent is None:
            raise self._refuse(image_line, "the image mapping is empty")
        for key in ("repository", "tag"):
            if key not in found:
                raise self._refuse(image_line, f"no image.{key} in the top-level image mapping")
        for key in found:
            if key in nested:
                raise self._refuse(found[key].line, f"image.{key} must be a single-line scalar")
        return found["repository"], found["tag"], found.get("digest")

    def _scalar(self, index: int, body: str, after_colon: int, key: str) -> Scalar:
        start = after_colon
        while start < len(body) and body[start] in " \t":
            start += 1
        rest = body[start:]
        if rest == "" or rest.startswith("#"):
            return Scalar(index, "", "empty", start, start)
        if rest[0] == '"':
            match = _DOUBLE.match(rest)
            style = "double"
        elif rest[0] == "'":
            match = _SINGLE.match(rest)
            style = "single"
        elif rest[0] in _PLAIN_INDICATORS:
            raise self._refuse(
                index,
                f"image.{key} uses YAML syntax that promotion does not rewrite "
                "(anchor, alias, tag, flow or block scalar)",
            )
        else:
            comment = re.search(r"[ \t]#", rest)
            token_end = comment.start() if comment else len(rest)
            token = rest[:token_end].rstrip(" \t")
            return Scalar(index, token, "plain", start, start + len(token))
        if match is None:
            raise self._refuse(index, f"image.{key} has an unterminated quoted value")
        token = match.group(0)
        if not _TRAILER.fullmatch(rest[match.end():]):
            raise self._refuse(index, f"image.{key} has trailing content after its value")
        value = _decode_double(token) if style == "double" else token[1:-1].replace("''", "'")
        return Scalar(index, value, style, start, start + len(token))

    @property
    def image(self) -> Image:
        return Image(self._repository.value, self._tag.value, self._digest.value if self._digest else "")

    def _replace(self, lines: list[str], scalar: Scalar, token: str) -> None:
        body, ending = _body(lines[scalar.line])
        if scalar.style == "empty" and not body[: scalar.start].endswith((" ", "\t")):
            token = " " + token
        lines[scalar.line] = body[: scalar.start] + token + body[scalar.end:] + ending

    def render(self, tag: str, repository: Optional[str] = None, digest: str = "") -> str:
        """The file's text with image.tag (and image.repository when given) replaced, and
        image.digest set to `digest`: added after the tag line, replaced, or removed when empty
        (a digest left beside a new tag would still pin the old image).

        A written tag or digest is always double-quoted: unquoted, 1234567 is an int and 6063e25 a
        float. The repository keeps the quoting it had.
        """
        lines = list(self.lines)
        # A plain scalar is requoted even when its text matches: as YAML it may be a number.
        if tag != self._tag.value or self._tag.style in ("plain", "empty"):
            self._replace(lines, self._tag, f'"{tag}"')
        if repository is not None and repository != self._repository.value:
            if self._repository.style == "double":
                token = f'"{repository}"'
            elif self._repository.style == "single" or not _PLAIN_SAFE.fullmatch(repository):
                token = f"'{repository}'"
            else:
                token = repository
            self._replace(lines, self._repository, token)
        if digest and self._digest is None:
            lines.insert(self._tag.line + 1, self._digest_line(lines, digest))
        elif digest and (digest != self._digest.value or self._digest.style in ("plain", "empty")):
            self._replace(lines, self._digest, f'"{digest}"')
        elif not digest and self._digest is not None:
            del lines[self._digest.line]
        return "".join(lines)

    def _digest_line(self, lines: list[str], digest: str) -> str:
        """`digest: "<digest>"` indented like the tag line. When the tag line is the last one and
        has no line ending, it gets the file's and the new last line goes without, as before."""
        body, ending = _body(lines[self._tag.line])
        indent = body[: len(body) - len(body.lstrip(" "))]
        if ending:
            return f'{indent}digest: "{digest}"{ending}'
        lines[self._tag.line] = body + next((_body(line)[1] for line in lines if _body(line)[1]), "\n")
        return f'{indent}digest: "{digest}"'
