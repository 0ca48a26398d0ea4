"""The git operations promotion needs, run through the git CLI.

Every call runs with a C locale (so that messages can be matched), no terminal prompt (a CI job
must fail, not hang, when credentials are missing) and no editor.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

from .errors import PromotionFailed, Refusal


class Git:
    def __init__(self, root: Path):
        self.root = root
        self._env = {
            **os.environ,
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
        }

    @classmethod
    def discover(cls, start: Path) -> "Git":
        try:
            result = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"],
                cwd=start, capture_output=True, text=True, check=False,
            )
        except FileNotFoundError:
            raise PromotionFailed("git is not installed") from None
        if result.returncode != 0:
            raise Refusal(f"{start} is not inside a git work tree")
        return cls(Path(result.stdout.strip()))

    def run(self, *args: str, check: bool = True, input: Optional[str] = None) -> subprocess.CompletedProcess:
        # Bytes, decoded here: text mode would turn the CRLF of a file read with `git show`
        # into LF, and a three-way merge against the file on disk would then conflict.
        raw = subprocess.run(
            ["git", *args], cwd=self.root, env=self._env,
            input=None if input is None else input.encode("utf-8", "surrogateescape"),
            capture_output=True, check=False,
        )
        result = subprocess.CompletedProcess(
            raw.args, raw.returncode,
            raw.stdout.decode("utf-8", "surrogateescape"), raw.stderr.decode("utf-8", "surrogateescape"),
        )
        if check and result.returncode != 0:
            raise PromotionFailed(
                f"git {' '.join(args)} failed (exit {result.returncode}):\n{(result.stderr or result.stdout).strip()}"
            )
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")

    def git_dir(self) -> Path:
        return (self.root / self.out("rev-parse", "--git-common-dir")).resolve()

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """Serialises promotions in one clone: two processes editing one work tree would
        overwrite each other's file edit or index."""
        path = self.git_dir() / "promote.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise PromotionFailed(
                            f"another promotion has held {path} for more than {timeout:g}s"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def operation_in_progress(self) -> Optional[str]:
        git_dir = Path(self.out("rev-parse", "--absolute-git-dir"))
        for marker, what in (
            ("rebase-merge", "a rebase"), ("rebase-apply", "a rebase or am"),
            ("MERGE_HEAD", "a merge"), ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
        ):
            if (git_dir / marker).exists():
                return what
        return None

    def check_clean(self) -> None:
        operation = self.operation_in_progress()
        if operation:
            raise Refusal(f"{operation} is in progress; finish or abort it first")
        status = self.run("status", "--porcelain=v1", "--untracked-files=all").stdout
        if status.strip():
            raise Refusal(
                "work tree is not clean; commit or stash these changes first:\n" + status.rstrip("\n")
            )

    def has_commits(self) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False).returncode == 0

    def commit_exists(self, sha: str) -> bool:
        return self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0

    def show(self, rev: str, path: str) -> Optional[str]:
        result = self.run("show", f"{rev}:{path}", check=False)
        return result.stdout if result.returncode == 0 else None

    def parent(self, rev: str) -> Optional[str]:
        result = self.run("rev-parse", "--verify", "--quiet", f"{rev}^1", check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def commit(self, paths: list[str], message: str) -> str:
        self.run("add", "--", *paths)
        result = self.run("commit", "--quiet", "--file=-", "--", *paths, input=message, check=False)
        if result.returncode != 0:
            self.run("reset", "--quiet", "HEAD", "--", *paths, check=False)
            raise PromotionFailed(f"git commit failed:\n{(result.stderr or result.stdout).strip()}")
        return self.head()

    def fetch(self, remote: str, branch: str) -> tuple[Optional[str], str]:
        """(tip of the remote branch or None when it does not exist, error text)."""
        result = self.run("fetch", "--quiet", "--no-tags", remote, f"refs/heads/{branch}", check=False)
        if result.returncode != 0:
            text = result.stderr.strip()
            if "couldn't find remote ref" in text:
                return None, ""
            return None, text or f"git fetch exited {result.returncode}"
        return self.out("rev-parse", "FETCH_HEAD"), ""

    def push(self, remote: str, branch: str) -> tuple[bool, str]:
        # An explicit refspec without '+': a push that is not a fast-forward is rejected, never forced.
        result = self.run("push", "--quiet", "--porcelain", remote, f"HEAD:refs/heads/{branch}", check=False)
        return result.returncode == 0, (result.stderr.strip() + "\n" + result.stdout.strip()).strip()

    def rebase(self, upstream: str) -> bool:
        result = self.run(
            "-c", "rebase.autoStash=false", "-c", "rebase.updateRefs=false",
            "rebase", "--quiet", "--no-autosquash", upstream, check=False,
        )
        if result.returncode != 0:
            self.run("rebase", "--abort", check=False)
            return False
        return True

    def reset_hard(self, rev: str) -> None:
        self.run("reset", "--quiet", "--hard", rev)

    def merge_file(self, current: str, base: str, other: str) -> tuple[str, int]:
        """Three-way merge of one file's texts, as `git revert` does per file:
        (merged text, number of conflicts)."""
        with tempfile.TemporaryDirectory(prefix="promote-merge-") as tmp:
            paths = []
            for name, text in (("current", current), ("base", base), ("other", other)):
                path = Path(tmp) / name
                path.write_bytes(text.encode("utf-8", "surrogateescape"))
                paths.append(str(path))
            result = self.run("merge-file", "--stdout", "--quiet", *paths, check=False)
        if result.returncode < 0 or result.returncode > 127:
            raise PromotionFailed(f"git merge-file failed:\n{result.stderr.strip()}")
        return result.stdout, result.returncode
