"""Command line of scripts/promote.py: set, copy, rollback, history, list."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import history as hist
from . import layout, rules
from .errors import PromotionFailed, Refusal
from .gitrepo import Git
from .history import Change
from .land import Command, Outcome, Plan, land_and_push, land_local
from .refs import (
    check_digest, check_repository, check_source_commit, check_tag, image_ref, is_valid_commit,
    is_valid_digest, is_valid_repository, is_valid_tag, DIGEST_HELP, REPOSITORY_HELP, TAG_HELP,
)
from .values import Image, ValuesFile

CHECK_SCRIPT = "scripts/check_charts.py"
CHECK_TIMEOUT_SECONDS = 900
LOCK_TIMEOUT_SECONDS = 600


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promote.py",
        description="Promote container images between environments by editing charts/<svc>/values-<env>.yaml "
                    "and committing the change.",
    )
    parser.add_argument("--repo", type=Path, default=None,
                        help="work tree of the repository to promote in (default: the current directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_push_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--push", action="store_true", help="push the commit, retrying when another promotion lands first")
        p.add_argument("--remote", default="origin")
        p.add_argument("--branch", default="main")
        p.add_argument("--max-attempts", type=int, default=10, help="push attempts before giving up (default 10)")

    def add_set_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--env", required=True)
        p.add_argument("--service", required=True)
        p.add_argument("--tag", required=True, help="commit SHA (7-40 lowercase hex) or sha256:<digest>")
        p.add_argument("--digest", help="sha256:<64 hex> digest of that tag's image, as the build reports it: "
                                         "written as image.digest, so the charts pull repository:tag@digest "
                                         "(without it, a digest recorded for another image is removed)")
        p.add_argument("--repository", help="image repository, e.g. ghcr.io/zainasr/api-node")
        p.add_argument("--source-commit", help="commit of the application repository the image was built from "
                                               "(default: GITHUB_SHA when it is not a commit of this repository)")

    def add_copy_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from", dest="from_env", required=True)
        p.add_argument("--to", dest="to_env", required=True)
        p.add_argument("--service", help="only this service (default: every application chart)")

    p_set = sub.add_parser("set", help="set image.tag (and optionally image.repository) of one service in an "
                                       f"environment fed by CI ({rules.RULES_FILE}), after checking the charts")
    add_set_arguments(p_set)
    add_push_options(p_set)

    p_copy = sub.add_parser("copy", help="promote the exact images of one env to the env it feeds "
                                         f"({rules.RULES_FILE}), after checking the charts")
    add_copy_arguments(p_copy)
    add_push_options(p_copy)

    p_check = sub.add_parser("check", help=f"check a set or copy request against the layout and {rules.RULES_FILE} "
                                           "without touching anything")
    check_sub = p_check.add_subparsers(dest="request", required=True)
    add_set_arguments(check_sub.add_parser("set", help="check a set request"))
    add_copy_arguments(check_sub.add_parser("copy", help="check a copy request"))

    p_rollback = sub.add_parser("rollback", help="revert the latest promotion of a service in an env")
    p_rollback.add_argument("--env", required=True)
    p_rollback.add_argument("--service", required=True)
    add_push_options(p_rollback)

    p_history = sub.add_parser("history", help="who promoted what, when, from which source commit")
    p_history.add_argument("--env")
    p_history.add_argument("--service")
    p_history.add_argument("--json", action="store_true")
    p_history.add_argument("--limit", type=int, default=None)

    p_list = sub.add_parser("list", help="print the environments or the promotable services, one a line")
    p_list.add_argument("what", choices=("envs", "services"))
    return parser


def _source_commit(git: Git, explicit: Optional[str]) -> Optional[str]:
    if explicit is not None:
        return check_source_commit(explicit)
    sha = os.environ.get("GITHUB_SHA", "")
    # In this repository's own workflows GITHUB_SHA is a commit of this repository, not the
    # application commit the image was built from: only a SHA unknown here is taken as a source.
    if is_valid_commit(sha) and not git.commit_exists(sha):
        return sha
    return None


def _load(git: Git, service: str, env: str) -> ValuesFile:
    path = layout.values_path(service, env)
    return ValuesFile.load(git.root / path, label=path)


def _set_command(git: Git, args: argparse.Namespace, source: Optional[str]) -> Command:
    env, service, tag, repository = args.env, args.service, args.tag, args.repository
    path = layout.values_path(service, env)

    def prepare() -> Optional[Plan]:
        values = _load(git, service, env)
        old = values.image
        new_repository = repository or old.repository
        if not is_valid_repository(new_repository):
            raise Refusal(f"{path}: image.repository {new_repository!r} is invalid ({REPOSITORY_HELP}); "
                          "pass --repository")
        # The digest recorded for this very image stays; beside any other image it would pin the old one.
        same_image = (tag, new_repository) == (old.tag, old.repository)
        digest = args.digest or (old.digest if same_image else "")
        text = values.render(tag, repository, digest)
        if text == values.text:
            return None
        change = Change(env, service, old, Image(new_repository, tag, digest), source)
        subject = f"chore(promote): {env} {service} {change.short()}"
        body = [f"{path}: {change.old_ref} -> {change.new_ref}"]
        return Plan({path: text}, [change], hist.message(subject, body, "set", [change]),
                    f"promoted {env} {service} {change.short()}")

    def already() -> str:
        image = _load(git, service, env).image
        return (f"{env} {service} is already at {image_ref(image.repository, image.tag, image.digest)}; "
                "nothing to commit")

    return Command(prepare, already, verify=_charts_check(git, env))


def _check_python(root: Path) -> str:
    venv_python = root / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.is_file() else sys.executable


def _charts_check(git: Git, env: str):
    def verify(plan: Plan) -> None:
        script = git.root / CHECK_SCRIPT
        if not script.is_file():
            raise Refusal(f"{CHECK_SCRIPT} is missing: cannot check the {env} charts; nothing committed")
        try:
            result = subprocess.run(
                [_check_python(git.root), CHECK_SCRIPT, env], cwd=git.root,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8", errors="replace",
                timeout=CHECK_TIMEOUT_SECONDS, check=False,
            )
        except subprocess.TimeoutExpired:
            raise PromotionFailed(f"{CHECK_SCRIPT} {env} did not finish in {CHECK_TIMEOUT_SECONDS}s") from None
        if result.returncode != 0:
            raise Refusal(
                f"charts check failed for {env} ({CHECK_SCRIPT} {env} exited {result.returncode}); "
                f"nothing committed:\n{result.stdout.rstrip()}"
            )
    return verify


def _copy_command(git: Git, args: argparse.Namespace) -> Command:
    from_env, to_env = args.from_env, args.to_env
    services = [args.service] if args.service else layout.services(git.root)
    captured: dict[str, Image] = {}

    def capture() -> None:
        # Taken once: after a concurrent change we re-apply what the operator saw in the
        # source env, not whatever it holds by then.
        if captured:
            return
        for service in services:
            path = layout.values_path(service, from_env)
            image = _load(git, service, from_env).image
            if not is_valid_tag(image.tag):
                raise Refusal(f"{path}: image.tag {image.tag!r} cannot be promoted: {TAG_HELP}")
            if not is_valid_repository(image.repository):
                raise Refusal(f"{path}: image.repository {image.repository!r} cannot be promoted: "
                              f"{REPOSITORY_HELP}")
            if image.digest and not is_valid_digest(image.digest):
                raise Refusal(f"{path}: image.digest {image.digest!r} cannot be promoted: {DIGEST_HELP}")
            captured[service] = image

    def prepare() -> Optional[Plan]:
        capture()
        log = hist.entries(git)
        files, changes = {}, []
        for service in services:
            path = layout.values_path(service, to_env)
            values = _load(git, service, to_env)
            wanted = captured[service]
            text = values.render(wanted.tag, wanted.repository, wanted.digest)
            if text == values.text:
                continue
            source = hist.source_of(log, from_env, service, image_ref(wanted.repository, wanted.tag, wanted.digest))
            files[path] = text
            changes.append(Change(to_env, service, values.image, wanted, source))
        if not changes:
            return None
        names = ", ".join(change.service for change in changes)
        subject = f"chore(promote): copy {from_env} -> {to_env} ({names})"
        body = [f"{to_env} {change.service}: {change.old_ref} -> {change.new_ref}" for change in changes]
        body.append(f"Checked with {CHECK_SCRIPT} {to_env} before committing.")
        summary = f"promoted {from_env} -> {to_env}: " + ", ".join(
            f"{change.service} {change.short()}" for change in changes)
        return Plan(files, changes, hist.message(subject, body, "copy", changes), summary)

    def already() -> str:
        return f"{to_env} already runs the {from_env} images of {', '.join(services)}; nothing to commit"

    return Command(prepare, already, verify=_charts_check(git, to_env))


def _rollback_command(git: Git, args: argparse.Namespace) -> Command:
    env, service = args.env, args.service
    path = layout.values_path(service, env)
    chosen: dict[str, hist.Entry] = {}

    def target() -> hist.Entry:
        # Chosen once: when the rollback has to be redone on a newer upstream, it still undoes
        # the promotion the operator asked about, never a newer one.
        if "entry" not in chosen:
            log = hist.entries(git)
            undone = hist.undone(log)
            for entry in log:
                if (entry.env == env and entry.service == service and entry.kind != "rollback"
                        and (entry.commit, env, service) not in undone):
                    chosen["entry"] = entry
                    break
            else:
                raise Refusal(f"no promotion of {service} in {env} to roll back")
        return chosen["entry"]

    def prepare() -> Optional[Plan]:
        entry = target()
        short = entry.commit[:12]
        parent = git.parent(entry.commit)
        base = git.show(entry.commit, path)
        before = git.show(parent, path) if parent else None
        if base is None or before is None:
            raise Refusal(f"cannot roll back {short}: {path} did not exist before it")
        current_values = _load(git, service, env)
        merged, conflicts = git.merge_file(current_values.text, base, before)
        if conflicts:
            raise Refusal(
                f"cannot roll back {short} ({entry.subject}): {path} has changed since in a way that "
                f"conflicts with reverting it; nothing changed. Use `set` to promote the tag you want."
            )
        if merged == current_values.text:
            return None
        restored_values = ValuesFile(git.root / path, merged, label=path)
        restored = restored_values.image
        # A state from before promotion existed may hold an unquoted tag, which YAML reads as
        # a number: the restored tag is written quoted like every promoted one.
        merged = restored_values.render(restored.tag, digest=restored.digest)
        check_tag(restored.tag)
        check_repository(restored.repository)
        if restored.digest:
            check_digest(restored.digest)
        log = hist.entries(git)
        source = hist.source_of(log, env, service, image_ref(restored.repository, restored.tag, restored.digest))
        change = Change(env, service, current_values.image, restored, source)
        subject = f"revert(promote): {env} {service} {change.short()}"
        body = [
            f"Rolls back {short} \"{entry.subject}\".",
            f"This reverts commit {entry.commit} for {path}.",
        ]
        return Plan({path: merged}, [change], hist.message(subject, body, "rollback", [change], entry.commit),
                    f"rolled back {env} {service} {change.short()} (reverted {short})")

    def already() -> str:
        entry = target()
        return (f"{env} {service} already matches the state before {entry.commit[:12]}; "
                "nothing to commit")

    return Command(prepare, already)


def _run_mutation(git: Git, args: argparse.Namespace, build) -> Outcome:
    if args.push and args.max_attempts < 1:
        raise Refusal("--max-attempts must be at least 1")
    with git.lock(LOCK_TIMEOUT_SECONDS):
        git.check_clean()
        command = build()
        if args.push:
            return land_and_push(git, command, args.remote, args.branch, args.max_attempts)
        return land_local(git, command)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except (Refusal, PromotionFailed) as error:
        for problem in getattr(error, "problems", None) or [str(error)]:
            print(f"error: {problem}", file=sys.stderr)
        return error.exit_code


def _check_set_request(git: Git, args: argparse.Namespace) -> None:
    layout.check_environment(git.root, args.env)
    layout.check_service(git.root, args.service)
    rules.load(git.root).check_set(args.env, args.service)


def _check_copy_request(git: Git, args: argparse.Namespace) -> None:
    layout.check_environment(git.root, args.from_env)
    layout.check_environment(git.root, args.to_env)
    if args.from_env == args.to_env:
        raise Refusal("--from and --to name the same environment")
    if args.service is not None:
        layout.check_service(git.root, args.service)
    rules.load(git.root).check_copy(args.from_env, args.to_env)


def _main(args: argparse.Namespace) -> int:
    action = args.request if args.command == "check" else args.command
    # Inputs are checked before the repository is looked at, so a bad request never takes the lock.
    if action == "set":
        check_tag(args.tag)
        if args.repository is not None:
            check_repository(args.repository)
        if args.source_commit is not None:
            check_source_commit(args.source_commit)
        if args.digest is not None:
            check_digest(args.digest)
            if args.tag.startswith("sha256:"):
                raise Refusal("--digest pins the image of a commit-SHA tag; --tag is already a digest")
    git = Git.discover(args.repo or Path.cwd())
    root = git.root

    if args.command == "list":
        names = layout.stacks(root) if args.what == "envs" else layout.services(root)
        print("\n".join(names))
        return 0

    if args.command == "history":
        if args.limit is not None and args.limit < 1:
            raise Refusal("--limit must be at least 1")
        entries = hist.entries(git, env=args.env, service=args.service)
        if args.limit is not None:
            entries = entries[: args.limit]
        if args.json:
            print(json.dumps([entry.as_json() for entry in entries], indent=2))
        elif entries:
            print(hist.format_table(entries))
        else:
            print("no promotions found")
        return 0

    if args.command == "check":
        if action == "set":
            _check_set_request(git, args)
            print(f"ok: set {args.env} {args.service} {args.tag}{'@' + args.digest if args.digest else ''}")
        else:
            _check_copy_request(git, args)
            print(f"ok: copy {args.from_env} -> {args.to_env} ({args.service or 'every service'})")
        return 0

    if args.command == "set":
        _check_set_request(git, args)
        source = _source_commit(git, args.source_commit)
        outcome = _run_mutation(git, args, lambda: _set_command(git, args, source))
    elif args.command == "copy":
        _check_copy_request(git, args)
        outcome = _run_mutation(git, args, lambda: _copy_command(git, args))
    else:
        # Rollback reads no rules: undoing a bad promotion must work in every environment, even
        # while promotion.yaml is being fixed.
        layout.check_environment(root, args.env)
        layout.check_service(root, args.service)
        outcome = _run_mutation(git, args, lambda: _rollback_command(git, args))
    for line in outcome.lines:
        print(line)
    return 0
