"""`make preview-diff STACK=<stack> [BASE=<ref>]`: what `pulumi up` would change from BASE to
the working tree, for real, with no secret and no cluster of the user's.

A throwaway control plane (controlplane.py) and the pinned engine (engine.py) on a file backend
of the run: `pulumi up` of BASE's program and stack file, then `pulumi preview --diff --json` of
the head against that state. Only cluster access and upstream sources differ from the stack files,
as in the real-cluster tier (stacks.local_sources); a Kind stack runs on the existing-cluster path.
Secret settings get placeholders (platform_ops/preview/secrets.py). Both sides are also rendered
offline, and the report (platform_ops/preview/report.py) goes to build/preview/<stack>.md and
stdout. The control plane is always stopped and the run's folder removed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from platform_ops.config import ConfigError, stack_file
from platform_ops.contract import PROJECT
from platform_ops.layout import stacks
from platform_ops.paths import REPO_ROOT, stack_file_path, testbed_dir
from platform_ops.preview.changes import PreviewOutputError, PulumiChanges, first_error, read_preview
from platform_ops.preview.charts import SideRender, render_tree
from platform_ops.preview.report import PreviewOutcome, format_report
from platform_ops.preview.secrets import plan_secrets
from testbed.controlplane import ControlPlane, ControlPlaneError
from testbed.engine import PulumiError, PulumiProject, merge_settings
from testbed.stacks import cluster_ingress_class, local_sources

# The one context of the throwaway control plane's kubeconfig; every stack reaches it through this.
PREVIEW_CONTEXT = "preview"
DEFAULT_BASE_BRANCH = "main"
TESTBED_TOOLS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok",
                 "pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")


class SideError(Exception):
    """A side's stack file cannot be read: one line naming the file."""


def read_stack_file(stack: str, tree: Path) -> dict:
    """The config block of the side's Pulumi.<stack>.yaml, read as everything else in the project
    reads it: a garbled file is one line naming the file, line and key."""
    try:
        return stack_file(stack, tree)
    except ConfigError as error:
        raise SideError(str(error)) from None


def uses_kind(config: dict) -> bool:
    cluster = config.get(f"{PROJECT}:cluster")
    # kind is the default mode (config/validation.py).
    return not isinstance(cluster, dict) or cluster.get("mode", "kind") == "kind"


def side_config(stack: str, tree: Path, config: dict, testbed: Path, kubeconfig: Path) -> dict:
    """The side's stack settings with this machine's cluster access and upstream sources."""
    try:
        sources = local_sources(stack, testbed, kubeconfig, tree)
    except (KeyError, TypeError, AttributeError):
        # A stack file too broken to name its versions: the program says what is wrong with it.
        sources = {}
    merged = merge_settings(config, sources)
    # The whole section: a Kind stack's own settings (node image, ports) mean nothing here.
    merged[f"{PROJECT}:cluster"] = {"mode": "existing", "kubeconfig": str(kubeconfig), "context": PREVIEW_CONTEXT}
    return merged


class PreviewEngine:
    """One throwaway control plane and one stack's state. up_base brings the base up once; each
    preview_head then previews a head against it (a preview changes nothing, so several heads can be
    previewed in turn). Use as a context manager: the control plane is always stopped."""

    def __init__(self, stack: str, testbed: Path, workdir: Path, python: Path = Path(sys.executable)):
        self.stack, self.testbed, self.workdir, self.python = stack, testbed, workdir, python
        self.plane = ControlPlane(tools=testbed, workdir=workdir / "control-plane", contexts=[PREVIEW_CONTEXT])
        self.project: Optional[PulumiProject] = None
        self._projects = 0

    def __enter__(self) -> "PreviewEngine":
        self.plane.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.plane.start()
            self.plane.apply(cluster_ingress_class())
        except BaseException:
            self.plane.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.plane.stop()

    def _new_project(self, tree: Path, config: dict, secrets: dict[str, str]) -> PulumiProject:
        self._projects += 1
        project = PulumiProject(testbed=self.testbed, source=tree, workdir=self.workdir / f"pulumi-{self._projects}",
                                stack=self.stack, python=self.python)
        project.workdir.mkdir(parents=True)
        project.write_program(tree, side_config(self.stack, tree, config, self.testbed, self.plane.kubeconfig))
        (project.workdir / "state").mkdir()
        project.run("stack", "init")
        project.set_secrets(secrets)
        return project

    def up_base(self, tree: Path, config: dict, secrets: dict[str, str]) -> Optional[str]:
        """`pulumi up` of the base; its error, or None. After a failure the head gets a fresh state."""
        try:
            project = self._new_project(tree, config, secrets)
            result = project.up(check=False)
        except PulumiError as error:
            return str(error).splitlines()[0]
        if result.returncode != 0:
            return first_error(result.stdout, result.stderr)
        self.project = project
        return None

    def preview_head(self, tree: Path, config: dict,
                     secrets: dict[str, str]) -> tuple[Optional[PulumiChanges], Optional[str]]:
        """`pulumi preview --diff --json` of the head: its changes, or the program's error."""
        try:
            if self.project is None:
                project = self._new_project(tree, config, secrets)
            else:
                project = self.project
                project.write_program(tree, side_config(self.stack, tree, config, self.testbed,
                                                        self.plane.kubeconfig))
                project.set_secrets(secrets)
            result = project.run("preview", "--diff", "--json", check=False)
        except PulumiError as error:
            return None, str(error).splitlines()[0]
        if result.returncode != 0:
            return None, first_error(result.stdout, result.stderr)
        try:
            return read_preview(result.stdout), None
        except PreviewOutputError as error:
            return None, str(error)


def as_in_the_checkout(engine_error: Optional[str], render: SideRender, stack: str) -> Optional[str]:
    """A side's error with the lines of the checkout's own stack file. The engine runs a copy
    whose stack file is rewritten (cluster access and sources), so the lines it names are the
    copy's; the offline render reads the checkout, and fails on the same setting first."""
    if engine_error is not None and render.error is not None and render.error.startswith(f"Pulumi.{stack}.yaml"):
        return render.error
    return engine_error


class Base:
    """The base brought up on an engine's control plane once, and rendered offline; preview()
    compares a head with it, as many heads in turn as wanted (a preview changes nothing)."""

    def __init__(self, engine: PreviewEngine, tree: Path, name: str, workdir: Path):
        self.engine, self.tree, self.name, self.workdir = engine, tree, name, workdir
        self.stack = engine.stack
        self.config: Optional[dict] = None
        self.error: Optional[str] = None
        self._previews = 0
        # The offline renders need no cluster: they run while the engine does.
        with ThreadPoolExecutor(max_workers=1) as pool:
            render = pool.submit(render_tree, tree, self.stack, workdir / "render-base")
            try:
                self.config = read_stack_file(self.stack, tree)
            except SideError as error:
                self.error = str(error)
            else:
                self.error = engine.up_base(tree, self.config, plan_secrets(self.config, None).base)
            self.render = render.result()
        self.error = as_in_the_checkout(self.error, self.render, self.stack)

    def preview(self, head_tree: Path, head_name: str) -> PreviewOutcome:
        """What `pulumi up` of the head would change from the base, and the charts' diff."""
        self._previews += 1
        head_config, head_error, changes = None, None, None
        try:
            head_config = read_stack_file(self.stack, head_tree)
        except SideError as error:
            head_error = str(error)
        secrets = plan_secrets(self.config, head_config)
        with ThreadPoolExecutor(max_workers=1) as pool:
            render = pool.submit(render_tree, head_tree, self.stack, self.workdir / f"render-head-{self._previews}")
            if head_config is not None:
                changes, head_error = self.engine.preview_head(head_tree, head_config, secrets.head)
            head_render = render.result()
        head_error = as_in_the_checkout(head_error, head_render, self.stack)
        return PreviewOutcome(self.stack, self.name, head_name, self.render, head_render, secrets.changed, changes,
                              self.error, head_error, kind_cluster=head_config is not None and uses_kind(head_config))


def preview_diff(stack: str, base_tree: Path, head_tree: Path, base_name: str, head_name: str,
                 testbed: Path, workdir: Path) -> PreviewOutcome:
    """The preview of `stack` from the checkout in base_tree to the one in head_tree."""
    with PreviewEngine(stack, testbed, workdir / "engine") as engine:
        return Base(engine, base_tree, base_name, workdir).preview(head_tree, head_name)


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


class UsageError(Exception):
    pass


def resolve_base(repo: Path, base: Optional[str]) -> tuple[str, str]:
    """The base's commit and how the report names it; by default the merge base with main."""
    if base is None:
        result = _git("merge-base", "HEAD", DEFAULT_BASE_BRANCH, cwd=repo)
        if result.returncode != 0:
            raise UsageError(f"no merge base of HEAD and {DEFAULT_BASE_BRANCH}: give one with BASE=<git ref>")
        commit = result.stdout.strip()
        return commit, f"merge base with {DEFAULT_BASE_BRANCH} ({commit[:12]})"
    result = _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=repo)
    if result.returncode != 0:
        raise UsageError(f"BASE={base} is not a commit of this repository")
    commit = result.stdout.strip()
    return commit, f"{base} ({commit[:12]})"


def export_commit(repo: Path, commit: str, target: Path) -> None:
    """The tree of `commit`, as `git archive` gives it, in `target`."""
    target.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=repo, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    extract = subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, capture_output=True)
    archive.stdout.close()
    error = archive.stderr.read().decode(errors="replace")
    archive.stderr.close()
    if archive.wait() != 0 or extract.returncode != 0:
        raise UsageError(f"cannot export {commit[:12]}: {(error or extract.stderr.decode()).strip()}")


def main(argv: Optional[list[str]] = None, repo: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="make preview-diff", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--base", help="a git ref (default: the merge base of HEAD and main)")
    parser.add_argument("--out", type=Path, help="report folder (default build/preview)")
    args = parser.parse_args(argv)
    testbed = testbed_dir()
    try:
        known = stacks(repo)
        if args.stack not in known:
            raise UsageError(f"{stack_file_path(args.stack, repo).name}: no such stack file "
                             f"(stacks: {', '.join(known)})")
        missing = [name for name in TESTBED_TOOLS if not (testbed / name).is_file()]
        if missing:
            raise UsageError(f"not built in {testbed}: {', '.join(missing)}: run `make testbed`")
        commit, base_name = resolve_base(repo, args.base)
        with tempfile.TemporaryDirectory(prefix="platform-ops-preview-") as tmp:
            base_tree = Path(tmp) / "base"
            export_commit(repo, commit, base_tree)
            outcome = preview_diff(args.stack, base_tree, repo, base_name, "working tree", testbed, Path(tmp))
    except (UsageError, ControlPlaneError) as error:
        print(f"preview-diff: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    report = format_report(outcome)
    out_dir = args.out or repo / "build" / "preview"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.stack}.md").write_text(report)
    print(report, end="")
    return outcome.exit_code
