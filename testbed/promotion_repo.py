"""Throwaway GitOps repositories for the promotion tests and benchmark.

Each fixture is a real git repository with the layout promotion relies on (Pulumi stack files,
application and library charts, values files written in several styles) pushed to a bare
repository that plays GitHub. Clones of it play developers' machines and CI jobs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from platform_ops.paths import REPO_ROOT

PROMOTE = REPO_ROOT / "scripts" / "promote.py"

SERVICES = ("api-node", "core-go", "worker-python")
ENVS = ("dev", "staging", "prod")
REGISTRY = "ghcr.io/zainasr"

# Each file exercises a different way a tag can be written before promotion touches it.
API_NODE = """\
# api-node in {env}.

# Image promoted to {env}. Written by promotion (scripts/promote.py): edit only through a promotion.
image:
  repository: ghcr.io/zainasr/api-node
  tag: "{tag}"
  pullPolicy: IfNotPresent

replicaCount: 1

# A sidecar's image is not promoted: its tag must never change.
sidecar:
  image:
    repository: ghcr.io/zainasr/log-shipper
    tag: "1234567"

podAnnotations:
  example.com/image-tag: "{tag}"
"""

CORE_GO = """\
# core-go in {env}.
replicaCount: 2


image:    # promoted
  # Written by promotion: the tag is the short SHA of the source commit.
  repository: ghcr.io/zainasr/core-go   # registry and path
  tag: {tag}   # left unquoted on purpose: Helm reads 6063e25 as a float

  pullPolicy: IfNotPresent
extraContainers:
  - name: exporter
    image:
      tag: 6063e25
"""

WORKER_PYTHON = """\
# worker-python in {env}.\r
image:\r
    repository: "ghcr.io/zainasr/worker-python"\r
    # single-quoted and indented by four, with Windows line endings\r
    tag: '{tag}'\r
queue:\r
  name: jobs\r
"""

TEMPLATES = {"api-node": API_NODE, "core-go": CORE_GO, "worker-python": WORKER_PYTHON}

INITIAL_TAGS = {
    ("api-node", "dev"): "1df3b1f", ("api-node", "staging"): "1df3b1f", ("api-node", "prod"): "0a1b2c3",
    ("core-go", "dev"): "6063e25", ("core-go", "staging"): "1234567", ("core-go", "prod"): "0a1b2c3",
    ("worker-python", "dev"): "1df3b1f", ("worker-python", "staging"): "1df3b1f",
    ("worker-python", "prod"): "0a1b2c3",
}

CHECK_CHARTS_STUB = '''\
"""Stand-in for the charts check: rejects an env whose values hold the quarantined tag."""
import os
import pathlib
import sys

env = sys.argv[1]
log = os.environ.get("FIXTURE_CHECK_LOG")
if log:
    with open(log, "a") as handle:
        handle.write(env + "\\n")
bad = [str(p) for p in sorted(pathlib.Path("charts").glob(f"*/values-{env}.yaml")) if "badbad0" in p.read_text()]
if bad:
    print(f"render failed: {', '.join(bad)}: image tag badbad0 is quarantined")
    sys.exit(1)
print(f"{env}: charts ok")
'''


# Rule files (promotion.yaml). The tests of the values-file and push mechanics `set` into every
# environment; the tests of the path to prod use the repository's own rules.
EVERY_ENV_FROM_CI = "environments:\n" + "".join(f"  {env}:\n    from: ci\n" for env in ENVS)
PROJECT_RULES = (REPO_ROOT / "promotion.yaml").read_text()


def values_text(service: str, env: str, tag: Optional[str] = None) -> str:
    return TEMPLATES[service].format(env=env, tag=tag or INITIAL_TAGS[(service, env)])


def git_env(home: Path) -> dict[str, str]:
    """An environment in which git uses only the fixture's config and no CI variables leak in."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Promo Tester\n\temail = promo@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GIT_", "GITHUB_"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
               LC_ALL="C", PYTHONDONTWRITEBYTECODE="1")
    return env


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout


@dataclass
class Clone:
    path: Path
    env: dict[str, str]

    def git(self, *args: str) -> str:
        return git(self.path, self.env, *args)

    def promote_cmd(self, *args: str) -> list[str]:
        return [sys.executable, str(PROMOTE), *args]

    def promote(self, *args: str, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.promote_cmd(*args), cwd=self.path, env=env or self.env,
                              capture_output=True, text=True)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.promote_cmd(*args), cwd=self.path, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read(self, relative: str) -> bytes:
        return (self.path / relative).read_bytes()

    def write(self, relative: str, data: bytes) -> None:
        (self.path / relative).write_bytes(data)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")

    def pull(self) -> None:
        self.git("pull", "--quiet", "--ff-only", "origin", "main")


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to commit, as git stores one (scripts/platform_ops links to the library)."""

    target: str


@dataclass
class Remote:
    """A bare repository standing in for GitHub, seeded with the fixture layout."""

    root: Path
    bare: Path
    env: dict[str, str]

    @classmethod
    def create(cls, root: Path, extra_files: Optional[dict[str, str | bytes | Symlink]] = None,
               layout: bool = True, rules: str = EVERY_ENV_FROM_CI) -> "Remote":
        env = git_env(root / "home")
        seed = root / "seed"
        files: dict[str, str | bytes | Symlink] = {} if not layout else {
            "Pulumi.yaml": "name: platform-ops\nruntime: python\n",
            "promotion.yaml": rules,
            "scripts/check_charts.py": CHECK_CHARTS_STUB,
            "charts/platform-lib/Chart.yaml": "apiVersion: v2\nname: platform-lib\ntype: library\nversion: 0.1.0\n",
            "charts/platform-lib/values-dev.yaml": "image:\n  tag: \"1234567\"\n",
        }
        for env_name in ENVS if layout else ():
            files[f"Pulumi.{env_name}.yaml"] = f"config:\n  platform-ops:environment: {env_name}\n"
        for service in SERVICES if layout else ():
            files[f"charts/{service}/Chart.yaml"] = (
                f"apiVersion: v2\nname: {service}\n# An application chart is promotable.\n"
                f"type: application\nversion: 0.1.0\n"
            )
            files[f"charts/{service}/values.yaml"] = f"# {service} defaults: no image tag here.\nport: 8080\n"
            for env_name in ENVS:
                files[f"charts/{service}/values-{env_name}.yaml"] = values_text(service, env_name)
        files.update(extra_files or {})
        for relative, text in files.items():
            path = seed / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, Symlink):
                path.symlink_to(text.target)
            else:
                path.write_bytes(text if isinstance(text, bytes) else text.encode())
        git(seed, env, "init", "--quiet", "--initial-branch=main")
        git(seed, env, "add", "--all")
        git(seed, env, "commit", "--quiet", "--message", "initial layout")
        bare = root / "origin.git"
        git(root, env, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        git(seed, env, "push", "--quiet", str(bare), "main")
        return cls(root, bare, env)

    def clone(self, name: str) -> Clone:
        path = self.root / name
        git(self.root, self.env, "clone", "--quiet", str(self.bare), str(path))
        return Clone(path, self.env)

    def git(self, *args: str) -> str:
        return git(self.bare, self.env, *args)

    def show(self, relative: str, rev: str = "main") -> str:
        return self.git("show", f"{rev}:{relative}")


def snapshot(clone: Clone) -> dict[str, bytes]:
    files = {str(path.relative_to(clone.path)): path.read_bytes()
             for path in clone.path.rglob("*") if path.is_file() and ".git" not in path.parts}
    files["HEAD"] = clone.head().encode()
    return files


def remote_history(remote: Remote, name: str = "verify") -> list[dict]:
    checker = remote.clone(name)
    result = checker.promote("history", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def install_competitor_hook(clone: Clone, competitor: Clone, pushes: list[list[str]]) -> None:
    """Before each of the clone's first len(pushes) push attempts, another clone lands a
    promotion first: a deterministic stand-in for a concurrent CI job."""
    counter = clone.path.parent / f"{clone.path.name}-hook-count"
    hook = clone.path / ".git" / "hooks" / "pre-push"
    hook.write_text(f"""#!{sys.executable}
import os, pathlib, subprocess, sys
counter = pathlib.Path({str(counter)!r})
count = int(counter.read_text()) if counter.exists() else 0
pushes = {pushes!r}
if count < len(pushes):
    counter.write_text(str(count + 1))
    env = {{k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") or k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}}
    result = subprocess.run([sys.executable, {str(PROMOTE)!r}, *pushes[count], "--push"],
                            cwd={str(competitor.path)!r}, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write("competitor failed: " + result.stderr)
        sys.exit(1)
""")
    hook.chmod(0o755)
