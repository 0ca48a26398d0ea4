"""A garbled file a user edits stops `make render` and `make up` with one line naming the file,
the line and the key: no traceback, a non-zero exit, nothing written and Pulumi never run.

Each case garbles one file of a copy of the repository (the stack file, a Chart.yaml, a chart's
values.yaml and a values-<env>.yaml; truncated, a tab, an unclosed quote, a wrong type) and runs
the real make targets there, with fake pulumi, kubectl, kind and docker on PATH for `make up`."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from platform_ops.paths import PROGRAM_FILES

MAKE = "/usr/bin/make"
PAST = 1_000_000_000  # requirements.txt older than .venv: make never reinstalls it

STACK_FILE = "Pulumi.dev.yaml"
CHART_YAML = "charts/api-node/Chart.yaml"
VALUES = "charts/core-go/values.yaml"
ENV_VALUES = "charts/worker-python/values-dev.yaml"

# (file, what is done to it, the text replaced, its replacement, the one line expected)
GARBLES = [
    (STACK_FILE, "truncated", "    scrapeInterval: 30s\n", "    scrapeInterval: 3",
     "Pulumi.dev.yaml:43: platform-ops:prometheus.scrapeInterval must be a non-empty string, got 3"),
    (STACK_FILE, "tab", "    httpsPort: 443", "\thttpsPort: 443",
     "Pulumi.dev.yaml:10: platform-ops:cluster is not valid YAML: found character '\\t' that cannot start any "
     "token while scanning for the next token (column 1)"),
    (STACK_FILE, "unclosed quote", "    namespace: apps", '    namespace: "apps',
     "Pulumi.dev.yaml:34: platform-ops:gitops.namespace is not valid YAML: found unexpected end of stream "
     "while scanning a quoted scalar (column 16)"),
    (STACK_FILE, "wrong type", "scrapeInterval: 30s", "scrapeInterval: 90s",
     "Pulumi.dev.yaml:43: platform-ops:prometheus.scrapeInterval must be at most 75s: the rules' 5m rate "
     'windows need 4 samples each, got "90s"'),
    (CHART_YAML, "truncated", "repository: file://../platform-lib\n", "repository: file://../platform-l",
     "charts/api-node/Chart.yaml:8: dependencies do not match Chart.lock (locked: platform-lib 0.1.0 from "
     "file://../platform-lib); run helm dependency update charts/api-node"),
    (CHART_YAML, "tab", "type: application", "\ttype: application",
     "charts/api-node/Chart.yaml:4: not valid YAML: found character '\\t' that cannot start any token "
     "while scanning for the next token (column 1)"),
    (CHART_YAML, "unclosed quote", 'appVersion: "1df3b1f"', 'appVersion: "1df3b1f',
     "charts/api-node/Chart.yaml:7: appVersion is not valid YAML: found unexpected end of stream while "
     "scanning a quoted scalar (column 13)"),
    (CHART_YAML, "wrong type", "name: api-node", "name: [api-node]",
     'charts/api-node/Chart.yaml:2: name must be the chart\'s folder name, "api-node", a DNS label, '
     "got ['api-node']"),
    (VALUES, "truncated", "  readiness:\n    periodSeconds: 5\n    timeoutSeconds: 2\n    failureThreshold: 3\n",
     "  readiness:\n    periodSeconds: 5\n    timeoutSeconds: 2\n    failureThreshold: ",
     "charts/core-go/values.yaml:52: probes.readiness.failureThreshold does not match values.schema.json: "
     "None is not of type 'integer'"),
    (VALUES, "tab", "  path: /health", "\tpath: /health",
     "charts/core-go/values.yaml:39: probes is not valid YAML: found character '\\t' that cannot start any "
     "token while scanning for the next token (column 1)"),
    (VALUES, "unclosed quote", "logLevel: info", "logLevel: 'info",
     "charts/core-go/values.yaml:25: logLevel is not valid YAML: found unexpected end of stream while "
     "scanning a quoted scalar (column 11)"),
    (VALUES, "wrong type", "port: 8080", "port: http",
     "charts/core-go/values.yaml:22: port does not match values.schema.json: 'http' is not of type 'integer'"),
    (ENV_VALUES, "truncated", "    memory: 128Mi\n", "    memory: 128",
     "charts/worker-python/values-dev.yaml:24: resources.limits.memory does not match values.schema.json: "
     "128 is not of type 'string'"),
    (ENV_VALUES, "tab", "logLevel: debug", "\tlogLevel: debug",
     "charts/worker-python/values-dev.yaml:12: not valid YAML: found character '\\t' that cannot start any "
     "token while scanning for the next token (column 1)"),
    (ENV_VALUES, "unclosed quote", 'tag: "1df3b1f"', 'tag: "1df3b1f',
     "charts/worker-python/values-dev.yaml:6: image.tag is not valid YAML: found unexpected end of stream "
     "while scanning a quoted scalar (column 8)"),
    (ENV_VALUES, "wrong type", "replicaCount: 1", "replicaCount: [1]",
     "charts/worker-python/values-dev.yaml:15: replicaCount does not match values.schema.json: [1] is not "
     "of type 'integer'"),
]


def executable(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


class Checkout:
    """A copy of what `make render` and `make up` run, with fake tools and a HOME of its own."""

    def __init__(self, repo_root: Path, tmp_path: Path):
        self.root = tmp_path / "repo"
        self.root.mkdir()
        for name in (*PROGRAM_FILES, "scripts", "Makefile", *(p.name for p in repo_root.glob("Pulumi.*.yaml"))):
            source = repo_root / name
            if source.is_dir():
                shutil.copytree(source, self.root / name, symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.tgz"))
            else:
                shutil.copy(source, self.root / name)
        (self.root / "requirements.txt").write_bytes((repo_root / "requirements.txt").read_bytes())
        os.utime(self.root / "requirements.txt", (PAST, PAST))
        (self.root / ".tools").symlink_to(repo_root / ".tools")
        self.venv = repo_root / ".venv"
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.pulumi_log = tmp_path / "pulumi.log"
        executable(self.bin / "pulumi", f'echo "$*" >> {self.pulumi_log}')
        for tool in ("kubectl", "kind", "docker"):
            executable(self.bin / tool, "exit 0")
        for tool in ("bash", "grep", "sed", "tr", "cat", "mkdir"):
            found = next(f"{d}/{tool}" for d in ("/usr/bin", "/bin") if os.path.exists(f"{d}/{tool}"))
            (self.bin / tool).symlink_to(found)

    def garble(self, file: str, old: str, new: str) -> None:
        path = self.root / file
        text = path.read_text()
        assert text.count(old) == 1, f"{file}: {old!r}"
        path.write_text(text.replace(old, new))

    def make(self, target: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [MAKE, "--no-print-directory", target, "STACK=dev", f"VENV={self.venv}", "PYTHON=python3"],
            cwd=self.root, env={"PATH": str(self.bin), "HOME": str(self.home)},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)


@pytest.fixture
def checkout(repo_root, tmp_path) -> Checkout:
    return Checkout(repo_root, tmp_path)


def one_line(result: subprocess.CompletedProcess, target: str) -> str:
    """The one line of stderr before make's closing `make: *** [...] Error 1`."""
    assert "Traceback" not in result.stderr, result.stderr
    *lines, last = result.stderr.splitlines()
    assert re.fullmatch(rf"make: \*\*\* \[Makefile:\d+: {target}\] Error 1", last), result.stderr
    assert result.returncode == 2
    assert len(lines) == 1, result.stderr
    return lines[0]


CASES = [pytest.param(file, old, new, line, id=f"{file} {kind}") for file, kind, old, new, line in GARBLES]


@pytest.mark.parametrize("file, old, new, line", CASES)
def test_make_render_stops_with_one_line_and_writes_nothing(checkout, file, old, new, line):
    checkout.garble(file, old, new)
    assert one_line(checkout.make("render"), "render") == line
    assert not (checkout.root / "build").exists()


@pytest.mark.parametrize("file, old, new, line", CASES)
def test_make_up_stops_with_one_line_before_pulumi(checkout, file, old, new, line):
    checkout.garble(file, old, new)
    assert one_line(checkout.make("up"), "up") == line
    assert not checkout.pulumi_log.exists()
    assert not (checkout.root / ".pulumi-state").exists()


def test_an_unbroken_copy_reaches_pulumi(checkout):
    result = checkout.make("up")
    assert result.returncode == 0, result.stderr
    assert checkout.pulumi_log.read_text().splitlines() == ["stack select --create dev", "up --stack dev --yes"]
