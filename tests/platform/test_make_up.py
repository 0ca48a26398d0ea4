"""`make up` and `make destroy`, run for real against fake tools on PATH: what they check and in
which order, and the backend and confirmation they give Pulumi, whose login they leave alone.

Every run happens in a copy of the repository made of symlinks (so .pulumi-state is created there,
not in the repository) whose requirements.txt is a copy with a fixed time, with HOME in a temporary
folder holding ~/.pulumi/credentials.json, a virtualenv and a Python that refuse to install
anything, and a fake `pulumi` that records each call."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

MAKE = "/usr/bin/make"
# What the copy of the repository leaves out: state and builds that a run must not touch.
LEFT_OUT = {".git", ".venv", ".tools", ".pulumi-state", "build", ".pytest_cache"}
CREDENTIALS = b'{\n    "current": "https://api.pulumi.com",\n    "accessTokens": {"https://api.pulumi.com": "pul-x"}\n}\n'
USER_BACKEND = "s3://team-state/platform-ops"
PAST = 1_000_000_000  # 2001-09-09
PULUMI_MISSING = ("missing 'pulumi': the Pulumi CLI runs the program "
                  "(https://www.pulumi.com/docs/iac/download-install/)")
STAGING_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: staging, cluster: {server: "https://staging.example:6443"}}]
users: [{name: staging, user: {token: x}}]
contexts: [{name: platform-staging, context: {cluster: staging, user: staging}}]
current-context: platform-staging
"""


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


class Sandbox:
    def __init__(self, repo_root: Path, tmp_path: Path):
        self.tmp = tmp_path
        self.checkout = tmp_path / "repo"
        self.checkout.mkdir()
        for entry in repo_root.iterdir():
            if entry.name not in LEFT_OUT | {"requirements.txt"}:
                (self.checkout / entry.name).symlink_to(entry)
        # A copy with a fixed, past time: whether .venv is out of date never depends on the clock.
        requirements = self.checkout / "requirements.txt"
        requirements.write_bytes((repo_root / "requirements.txt").read_bytes())
        os.utime(requirements, (PAST, PAST))
        self.home = tmp_path / "home"
        self.credentials = self.home / ".pulumi" / "credentials.json"
        self.credentials.parent.mkdir(parents=True)
        self.credentials.write_bytes(CREDENTIALS)
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.pulumi_log = tmp_path / "pulumi.log"
        self.install_log = tmp_path / "install.log"
        # Anything that would create the virtualenv or install into it records the attempt and fails.
        refuse = f'echo "$0 $*" >> {self.install_log}; echo "refused: $0 $*" >&2; exit 97'
        self.python = executable(tmp_path / "python" / "python3", refuse)
        self.venv = tmp_path / "venv"
        self.base = tmp_path / "base"
        self.base.mkdir()
        for tool in ("bash", "grep", "sed", "tr", "cat", "mkdir"):
            found = next(f"{d}/{tool}" for d in ("/usr/bin", "/bin") if os.path.exists(f"{d}/{tool}"))
            (self.base / tool).symlink_to(found)

    def tools(self, *names: str) -> None:
        for name in names:
            if name == "pulumi":
                executable(self.bin / name,
                           f'printf \'%s\\t%s\\n\' "${{PULUMI_BACKEND_URL-(unset)}}" "$*" >> {self.pulumi_log}')
            else:
                executable(self.bin / name, "exit 0")

    def installed_venv(self) -> None:
        """A virtualenv already made from requirements.txt: the tests' own interpreter, which
        refuses `python -m ...` (pip, venv), and a pip that refuses everything."""
        executable(self.venv / "bin" / "python",
                   f'case "$1" in -m) exec {self.python} "$@";; esac\nexec {sys.executable} "$@"')
        executable(self.venv / "bin" / "pip", f'exec {self.python} "$@"')
        stamp = self.venv / ".installed"
        stamp.touch()
        os.utime(stamp, (PAST + 60, PAST + 60))

    def kubeconfig(self, text: str) -> None:
        path = self.home / ".kube" / "config"
        path.parent.mkdir(parents=True)
        path.write_text(text)

    def make(self, target: str, stack: str = "dev", tty: bool = False, **env: str):
        command = [MAKE, "--no-print-directory", target, f"STACK={stack}",
                   f"VENV={self.venv}", f"PYTHON={self.python}"]
        # Only what the test gives: no CI, PULUMI_* or MAKEFLAGS from the environment of the tests.
        environment = {"PATH": f"{self.bin}:{self.base}", "HOME": str(self.home), **env}
        if not tty:
            return subprocess.run(command, cwd=self.checkout, env=environment, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120)
        controller, terminal = pty.openpty()
        try:
            return subprocess.run(command, cwd=self.checkout, env=environment, stdin=terminal,
                                  capture_output=True, text=True, timeout=120)
        finally:
            os.close(terminal)
            os.close(controller)

    def pulumi_calls(self) -> list[tuple[str, str]]:
        if not self.pulumi_log.exists():
            return []
        return [tuple(line.split("\t")) for line in self.pulumi_log.read_text().splitlines()]

    def install_attempts(self) -> list[str]:
        return self.install_log.read_text().splitlines() if self.install_log.exists() else []

    @property
    def local_backend(self) -> str:
        return f"file://{self.checkout}/.pulumi-state"


@pytest.fixture
def sandbox(repo_root, tmp_path):
    return Sandbox(repo_root, tmp_path)


@pytest.fixture
def ready(sandbox):
    """Everything the dev stack needs, the virtualenv already installed."""
    sandbox.tools("pulumi", "kubectl", "kind", "docker")
    sandbox.installed_venv()
    return sandbox


def failure_lines(result, target):
    """stderr without make's closing `make: *** [Makefile:N: target] Error 1`, which must be there."""
    *lines, last = result.stderr.splitlines()
    assert re.fullmatch(rf"make: \*\*\* \[Makefile:\d+: {target}\] Error 1", last), result.stderr
    assert result.returncode == 2
    return lines


def test_up_runs_pulumi_without_login_on_the_project_backend(ready):
    result = ready.make("up")
    assert result.returncode == 0, result.stderr
    assert ready.pulumi_calls() == [
        (ready.local_backend, "stack select --create dev"),
        (ready.local_backend, "up --stack dev --yes"),
    ]


def test_up_creates_the_project_backend_folder(ready):
    ready.make("up")
    assert (ready.checkout / ".pulumi-state").is_dir()


def test_up_leaves_the_users_pulumi_credentials_byte_identical(ready):
    ready.make("up")
    assert ready.credentials.read_bytes() == CREDENTIALS
    assert sorted(p.name for p in ready.credentials.parent.iterdir()) == ["credentials.json"]


def test_up_uses_the_users_backend_when_set(ready):
    result = ready.make("up", PULUMI_BACKEND_URL=USER_BACKEND)
    assert result.returncode == 0, result.stderr
    assert ready.pulumi_calls() == [
        (USER_BACKEND, "stack select --create dev"),
        (USER_BACKEND, "up --stack dev --yes"),
    ]
    assert not (ready.checkout / ".pulumi-state").exists()


@pytest.mark.parametrize("backend", [None, USER_BACKEND])
def test_destroy_uses_the_same_backend_without_login(ready, backend):
    result = ready.make("destroy", **({"PULUMI_BACKEND_URL": backend} if backend else {}))
    assert result.returncode == 0, result.stderr
    assert ready.pulumi_calls() == [(backend or ready.local_backend, "destroy --stack dev --yes")]


@pytest.mark.parametrize("ci, tty, confirmation", [
    ("true", True, " --yes"),   # CI: nobody to answer, even on a terminal
    (None, False, " --yes"),    # no terminal on stdin
    (None, True, ""),           # a user at a terminal: Pulumi asks
    ("false", True, ""),
])
@pytest.mark.parametrize("target, command", [("up", "up --stack dev"), ("destroy", "destroy --stack dev")])
def test_yes_only_where_nobody_can_confirm(ready, target, command, ci, tty, confirmation):
    result = ready.make(target, tty=tty, **({"CI": ci} if ci else {}))
    assert result.returncode == 0, result.stderr
    assert ready.pulumi_calls()[-1] == (ready.local_backend, command + confirmation)


@pytest.mark.parametrize("target", ["up", "destroy"])
def test_a_missing_tool_stops_before_the_virtualenv(sandbox, target):
    sandbox.tools("kubectl", "kind", "docker")  # no pulumi; no virtualenv yet either
    result = sandbox.make(target)
    assert failure_lines(result, target) == [f"make {target}: {PULUMI_MISSING}"]
    assert (sandbox.install_attempts(), sandbox.venv.exists()) == ([], False)


@pytest.mark.parametrize("target", ["up", "destroy"])
def test_a_missing_stack_file_lists_the_stacks(ready, target):
    result = ready.make(target, stack="qa")
    assert failure_lines(result, target) == [
        f"make {target}: no stack file Pulumi.qa.yaml (stacks: dev, prod, staging)"]
    assert ready.pulumi_calls() == []


@pytest.mark.parametrize("target", ["up", "destroy"])
def test_the_virtualenv_comes_after_the_tools_and_before_pulumi(sandbox, target):
    sandbox.tools("pulumi", "kubectl", "kind", "docker")  # every tool, no virtualenv
    result = sandbox.make(target)
    assert result.returncode == 2
    assert sandbox.install_attempts() == [f"{sandbox.python} -m venv {sandbox.venv}"]
    assert sandbox.pulumi_calls() == []


@pytest.mark.parametrize("target", ["up", "destroy"])
def test_an_unreachable_cluster_stops_before_pulumi(ready, target):
    result = ready.make(target, stack="staging")  # HOME has no ~/.kube/config
    assert failure_lines(result, target) == [
        "Pulumi.staging.yaml: platform-ops:cluster.kubeconfig: ~/.kube/config does not exist"]
    assert ready.pulumi_calls() == []


def test_a_missing_context_stops_before_pulumi(ready):
    ready.kubeconfig(STAGING_KUBECONFIG.replace("name: platform-staging", "name: platform-dev"))
    result = ready.make("destroy", stack="staging")
    assert failure_lines(result, "destroy") == [
        "Pulumi.staging.yaml: platform-ops:cluster.context: platform-staging is not a context of "
        "~/.kube/config (contexts: platform-dev)"]
    assert ready.pulumi_calls() == []


def test_an_existing_cluster_stack_reaches_pulumi_once_its_context_exists(sandbox):
    sandbox.tools("pulumi", "kubectl")  # neither kind nor Docker for an existing cluster
    sandbox.installed_venv()
    sandbox.kubeconfig(STAGING_KUBECONFIG)
    result = sandbox.make("up", stack="staging")
    assert result.returncode == 0, result.stderr
    assert sandbox.pulumi_calls() == [
        (sandbox.local_backend, "stack select --create staging"),
        (sandbox.local_backend, "up --stack staging --yes"),
    ]
