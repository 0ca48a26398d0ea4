"""Turning a planned edit into a commit, and that commit into a push that is never lost.

A command supplies `prepare()`, which computes the edit against the current work tree (None
when there is nothing to change), and optionally `verify()`, which checks the written files
before they are committed. `land` then commits; with a remote it also pushes, and when the push
is rejected because someone else promoted first it fetches, rebases, and if the rebase conflicts
(the same values lines changed upstream) starts over from the new upstream tip and prepares the
edit again. Nothing is ever force-pushed, so a concurrent promotion is either already in the
history we rebase onto, or it will be rejected and do the same.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .errors import PromotionFailed, Refusal
from .gitrepo import Git
from .history import Change
from .layout import values_path
from .values import ValuesFile


@dataclass
class Plan:
    files: dict[str, str]  # repository-relative path -> new text
    changes: list[Change]
    message: str
    summary: str  # one line printed when the commit is made


@dataclass
class Command:
    prepare: Callable[[], Optional[Plan]]
    already: Callable[[], str]  # the line printed when there is nothing to change
    verify: Optional[Callable[[Plan], None]] = None


@dataclass
class Outcome:
    committed: Optional[str] = None
    attempts: int = 0
    lines: list[str] = field(default_factory=list)


def _write(git: Git, plan: Plan) -> dict[str, bytes]:
    originals = {}
    for path, text in plan.files.items():
        target = git.root / path
        originals[path] = target.read_bytes()
        target.write_bytes(text.encode("utf-8", "surrogateescape"))
    return originals


def _restore(git: Git, originals: dict[str, bytes]) -> None:
    for path, data in originals.items():
        (git.root / path).write_bytes(data)


def commit_plan(git: Git, command: Command, plan: Plan) -> str:
    originals = _write(git, plan)
    try:
        if command.verify is not None:
            command.verify(plan)
        return git.commit(sorted(plan.files), plan.message)
    except BaseException:
        _restore(git, originals)
        raise


def _committed_as_planned(git: Git, plan: Plan) -> bool:
    """After a rebase without conflicts, the commit must still say what it does: the values
    before it are the plan's `old` and after it the plan's `new`."""
    for change in plan.changes:
        path = values_path(change.service, change.env)
        before, after = git.show("HEAD~1", path), git.show("HEAD", path)
        if before is None or after is None:
            return False
        try:
            if ValuesFile(Path(path), before).image != change.old:
                return False
            if ValuesFile(Path(path), after).image != change.new:
                return False
        except Refusal:
            return False
    return True


def _backoff(attempt: int, base: float, cap: float) -> float:
    # "Equal jitter": never zero, so a loser always lets the winner's push settle, and random,
    # so that processes rejected together do not retry in lockstep.
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def land_local(git: Git, command: Command) -> Outcome:
    plan = command.prepare()
    if plan is None:
        return Outcome(lines=[command.already()])
    sha = commit_plan(git, command, plan)
    return Outcome(committed=sha, lines=[f"{plan.summary} (commit {sha[:12]})"])


def _sync(git: Git, remote: str, branch: str) -> None:
    """Start from the remote tip so that the edit (and the no-op decision) is made against
    what is deployed, not a stale checkout."""
    upstream, error = git.fetch(remote, branch)
    if error:
        raise PromotionFailed(f"cannot fetch {branch} from {remote}:\n{error}")
    if upstream is None or not git.has_commits():
        return
    head = git.head()
    if head == upstream:
        return
    if git.is_ancestor(head, upstream):
        git.run("merge", "--quiet", "--ff-only", upstream)
        return
    ahead = git.out("rev-list", "--count", f"{upstream}..{head}")
    raise Refusal(
        f"HEAD has {ahead} commit(s) that are not on {remote}/{branch}; "
        "push or drop them before promoting with --push"
    )


def land_and_push(git: Git, command: Command, remote: str, branch: str, max_attempts: int,
                  backoff_base: float = 0.2, backoff_cap: float = 3.0) -> Outcome:
    _sync(git, remote, branch)
    plan = command.prepare()
    if plan is None:
        return Outcome(lines=[command.already()])
    commit_plan(git, command, plan)
    last_error = ""
    for attempt in range(1, max_attempts + 1):
        pushed, error = git.push(remote, branch)
        if pushed:
            sha = git.head()
            return Outcome(committed=sha, attempts=attempt, lines=[
                f"{plan.summary} (commit {sha[:12]})",
                f"pushed to {remote} {branch} (attempt {attempt} of {max_attempts})",
            ])
        last_error = error
        if attempt == max_attempts:
            break
        time.sleep(_backoff(attempt, backoff_base, backoff_cap))
        upstream, fetch_error = git.fetch(remote, branch)
        if fetch_error or upstream is None:
            last_error = fetch_error or last_error
            continue
        if git.rebase(upstream):
            if git.head() == upstream:
                # The rebase dropped our commit: the same change is already upstream.
                return Outcome(lines=[command.already()])
            if _committed_as_planned(git, plan):
                if command.verify is not None:
                    try:
                        command.verify(plan)
                    except Refusal:
                        git.reset_hard(upstream)
                        raise
                continue
        # The same lines changed upstream: redo the edit on top of the new tip.
        git.reset_hard(upstream)
        plan = command.prepare()
        if plan is None:
            return Outcome(lines=[command.already()])
        commit_plan(git, command, plan)
    raise PromotionFailed(
        f"push to {remote} {branch} was rejected {max_attempts} times; the promotion is committed "
        f"locally as {git.head()[:12]} but NOT pushed. Last error:\n{last_error}"
    )
