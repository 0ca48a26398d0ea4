"""Promotion commits: how their messages are written and read back.

Git history is the promotion log. Each promoted service gets one `Promotion:` trailer holding
every fact as key=value tokens (kind, env, service, from, to, source, reverts), so that history,
rollback and copy read structured data instead of parsing free-form subjects. The
`Promoted-Image:` and `Source-Commit:` trailers are there for people and for `git log --grep`.

A plain `git revert` of a promotion commit carries no trailers, only git's own body line
`This reverts commit <sha>.`: it is read back as a rollback of every service that commit promoted.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .gitrepo import Git
from .refs import display, image_ref
from .values import Image

PROMOTION = "Promotion"
_FIELD_SEP, _RECORD_SEP = "\x1f", "\x1e"
_RUN_PART = re.compile(r"[A-Za-z0-9._/:-]+")
# The body line `git revert <sha>` writes (full SHA-1 or SHA-256 object name).
_GIT_REVERT = re.compile(r"^This reverts commit ([0-9a-f]{40}|[0-9a-f]{64})\.$", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    env: str
    service: str
    old: Image
    new: Image
    source: Optional[str] = None

    @property
    def old_ref(self) -> str:
        if self.old.repository == "" and self.old.tag == "":
            return "none"
        if not self.old.tag:
            return display(self.old.repository)
        return display(image_ref(self.old.repository, self.old.tag, self.old.digest))

    @property
    def new_ref(self) -> str:
        return image_ref(self.new.repository, self.new.tag, self.new.digest)

    def short(self) -> str:
        """`<old> -> <new>` with tags (and digests) only, or whole references when the repository changes."""
        if self.old.repository == self.new.repository:
            return f"{display(_tag_text(self.old))} -> {_tag_text(self.new)}"
        return f"{self.old_ref} -> {self.new_ref}"


def _tag_text(image: Image) -> str:
    return f"{image.tag}@{image.digest}" if image.digest else image.tag


def promotion_trailer(kind: str, change: Change, reverts: Optional[str] = None) -> str:
    tokens = [f"kind={kind}", f"env={change.env}", f"service={change.service}",
              f"from={change.old_ref}", f"to={change.new_ref}"]
    if change.source:
        tokens.append(f"source={change.source}")
    if reverts:
        tokens.append(f"reverts={reverts}")
    return " ".join(tokens)


def run_url() -> Optional[str]:
    """The CI run that made the promotion, when running in GitHub Actions."""
    parts = [os.environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(part and _RUN_PART.fullmatch(part) for part in parts):
        return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}"
    return None


def message(subject: str, body: Iterable[str], kind: str, changes: list[Change],
            reverts: Optional[str] = None) -> str:
    trailers = [f"{PROMOTION}: {promotion_trailer(kind, change, reverts)}" for change in changes]
    trailers += [f"Promoted-Image: {change.new_ref}" for change in changes]
    sources = list(dict.fromkeys(change.source for change in changes if change.source))
    trailers += [f"Source-Commit: {source}" for source in sources]
    url = run_url()
    if url:
        trailers.append(f"Promotion-Run: {url}")
    return subject + "\n\n" + "\n".join(body) + "\n\n" + "\n".join(trailers) + "\n"


@dataclass
class Entry:
    commit: str
    date: str
    author: str
    email: str
    kind: str
    env: str
    service: str
    from_ref: str
    to_ref: str
    source_commit: Optional[str] = None
    reverts: Optional[str] = None
    run_url: Optional[str] = None
    subject: str = field(default="", repr=False)

    def as_json(self) -> dict:
        return {
            "commit": self.commit, "date": self.date, "author": self.author, "email": self.email,
            "kind": self.kind, "env": self.env, "service": self.service,
            "from": self.from_ref, "to": self.to_ref, "source_commit": self.source_commit,
            "reverts": self.reverts, "run_url": self.run_url,
        }


def _parse_tokens(value: str) -> dict[str, str]:
    tokens = {}
    for token in value.split():
        key, sep, val = token.partition("=")
        if sep:
            tokens[key] = val
    return tokens


def entries(git: Git, env: Optional[str] = None, service: Optional[str] = None,
            rev: str = "HEAD") -> list[Entry]:
    """Every promoted (env, service) pair in the history of rev, newest first, with each `git revert`
    of a promotion commit as a rollback."""
    if not git.has_commits():
        return []
    fmt = _FIELD_SEP.join(["%H", "%aI", "%an", "%ae", "%s", "%b", "%(trailers:only,unfold)"]) + _RECORD_SEP
    # Oldest first, so that a revert is read after the promotion it reverts; --date-order keeps
    # every commit after its parents even when clocks disagree.
    log = git.run("log", "--date-order", "--reverse", f"--format={fmt}", f"--grep=^{PROMOTION}: kind=",
                  "--grep=^This reverts commit ", rev).stdout
    # Each commit's entries in the order of its trailers, the commits oldest first.
    by_commit: dict[str, list[Entry]] = {}
    for record in log.split(_RECORD_SEP):
        record = record.strip("\n")
        if not record:
            continue
        commit, date, author, email, subject, body, trailers = record.split(_FIELD_SEP, 6)
        run = None
        items = []
        for line in trailers.splitlines():
            key, _, value = line.partition(": ")
            if key == PROMOTION:
                items.append(_parse_tokens(value))
            elif key == "Promotion-Run":
                run = value.strip()
        made = [
            Entry(
                commit=commit, date=date, author=author, email=email, kind=item["kind"],
                env=item["env"], service=item["service"], from_ref=item["from"], to_ref=item["to"],
                source_commit=item.get("source"), reverts=item.get("reverts"), run_url=run,
                subject=subject,
            )
            for item in items if {"kind", "env", "service", "from", "to"} <= item.keys()
        ]
        reverted = None if items else _GIT_REVERT.search(body)
        if reverted:
            older = _newest_first(by_commit)
            made = [_git_revert_entry(commit, date, author, email, subject, promotion, older)
                    for promotion in by_commit.get(reverted.group(1), [])]
        by_commit[commit] = made
    return [entry for entry in _newest_first(by_commit)
            if (env is None or entry.env == env) and (service is None or entry.service == service)]


def _newest_first(by_commit: dict[str, list[Entry]]) -> list[Entry]:
    return [entry for made in reversed(by_commit.values()) for entry in made]


def _git_revert_entry(commit: str, date: str, author: str, email: str, subject: str,
                      promotion: Entry, older: list[Entry]) -> Entry:
    """The rollback a `git revert` of `promotion` makes: its env and service back to what they ran
    before, with the source commit recorded by the promotion that put that image there."""
    return Entry(
        commit=commit, date=date, author=author, email=email, kind="rollback",
        env=promotion.env, service=promotion.service, from_ref=promotion.to_ref, to_ref=promotion.from_ref,
        source_commit=source_of(older, promotion.env, promotion.service, promotion.from_ref),
        reverts=promotion.commit, subject=subject,
    )


def undone(history: list[Entry]) -> set[tuple[str, str, str]]:
    """(commit, env, service) of every promotion that a rollback undid and that is not back in
    effect: reverting a rollback (with `git revert`) re-applies the promotion it had undone."""
    found: set[tuple[str, str, str]] = set()
    # Newest first (entries() lists every commit before its parents): by the time a rollback is
    # reached we already know whether a later one undid it.
    for entry in history:
        if entry.reverts and (entry.commit, entry.env, entry.service) not in found:
            found.add((entry.reverts, entry.env, entry.service))
    return found


def source_of(history: list[Entry], env: str, service: str, ref: str) -> Optional[str]:
    """The source commit recorded by the newest promotion that put ref into env."""
    for entry in history:
        if entry.env == env and entry.service == service and entry.to_ref == ref and entry.source_commit:
            return entry.source_commit
    return None


def format_table(history: list[Entry]) -> str:
    header = ("DATE", "ENV", "SERVICE", "KIND", "CHANGE", "BY", "SOURCE", "COMMIT")
    rows = [header]
    for entry in history:
        rows.append((
            entry.date, entry.env, entry.service, entry.kind,
            _change_text(entry.from_ref, entry.to_ref),
            f"{entry.author} <{entry.email}>", entry.source_commit or "-", entry.commit[:12],
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _split_ref(ref: str) -> tuple[str, str]:
    """(repository, what follows it): `tag`, `tag@sha256:...` or, for a reference by digest alone,
    `sha256:...`."""
    name, at, digest = ref.partition("@")
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return (name, digest) if at else (ref, "")
    return repo, f"{tag}@{digest}" if at else tag


def _change_text(from_ref: str, to_ref: str) -> str:
    from_repo, from_tag = _split_ref(from_ref)
    to_repo, to_tag = _split_ref(to_ref)
    if from_repo == to_repo and from_tag and to_tag:
        return f"{from_tag} -> {to_tag}"
    return f"{from_ref} -> {to_ref}"
