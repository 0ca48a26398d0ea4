"""`copy` against this repository's real charts and its real check (scripts/check_charts.py,
which renders with helm as Argo CD does), not the fixture's stand-in."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from testbed.promotion_repo import REPO_ROOT, Remote, Symlink


@pytest.fixture
def project(tmp_path, tool) -> tuple:
    """A remote holding every file of this repository that git would commit."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    files = {name: Symlink(os.readlink(REPO_ROOT / name)) if (REPO_ROOT / name).is_symlink()
             else (REPO_ROOT / name).read_bytes()
             for name in listed if name and ((REPO_ROOT / name).is_file() or (REPO_ROOT / name).is_symlink())}
    remote = Remote.create(tmp_path, extra_files=files, layout=False)
    clone = remote.clone("work")
    env = {**clone.env, "PLATFORM_OPS_TOOLS": str(Path(tool("helm")).parent)}
    return clone, env


def staging_image(clone) -> dict:
    return yaml.safe_load(clone.read("charts/api-node/values-staging.yaml"))["image"]


def test_copy_runs_the_real_chart_check_and_commits(project):
    clone, env = project
    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25", env=env)
    assert result.returncode == 0, result.stderr

    result = clone.promote("copy", "--from", "dev", "--to", "staging", "--service", "api-node", env=env)

    assert result.returncode == 0, result.stderr
    assert staging_image(clone)["tag"] == "6063e25"
    assert clone.git("log", "-1", "--format=%s").strip() == "chore(promote): copy dev -> staging (api-node)"
    assert clone.status() == ""


def test_copy_is_refused_when_the_real_check_fails(project):
    clone, env = project
    path = "charts/api-node/values-staging.yaml"
    text = clone.read(path).decode()
    broken = "\n".join("replicaCount: 0" if line.startswith("replicaCount:") else line
                       for line in text.split("\n"))
    assert broken != text
    clone.write(path, broken.encode())
    clone.git("commit", "--quiet", "-am", "break staging")
    assert clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25", env=env).returncode == 0
    head, before = clone.head(), clone.read(path)

    result = clone.promote("copy", "--from", "dev", "--to", "staging", "--service", "api-node", env=env)

    assert (result.returncode, result.stderr) == (2, (
        "error: charts check failed for staging (scripts/check_charts.py staging exited 1); nothing committed:\n"
        "charts/api-node/values-staging.yaml:15: replicaCount does not match values.schema.json: "
        "0 is less than the minimum of 1\n"))
    assert (clone.head(), clone.read(path), clone.status()) == (head, before, "")


def test_copy_is_refused_when_a_container_port_is_not_the_port_the_app_listens_on(project):
    clone, env = project
    helpers = "charts/api-node/templates/_helpers.tpl"
    text = clone.read(helpers).decode()
    broken = text.replace("containerPort: {{ .Values.port }}", "containerPort: {{ add .Values.port 1 }}")
    assert broken != text
    # Promoted to dev before the chart breaks: `set` runs the same check and would refuse it after.
    assert clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25", env=env).returncode == 0
    clone.write(helpers, broken.encode())
    clone.git("commit", "--quiet", "-am", "declare the wrong container port")
    head = clone.head()

    result = clone.promote("copy", "--from", "dev", "--to", "staging", "--service", "api-node", env=env)

    assert (result.returncode, result.stderr) == (2, (
        "error: charts check failed for staging (scripts/check_charts.py staging exited 1); nothing committed:\n"
        "check_charts: staging: 1 problem(s):\n"
        "  - charts/api-node: Deployment/api-node: container api-node: listens on PORT=3000 but declares port http "
        "as containerPort 3001\n"))
    assert (clone.head(), clone.status()) == (head, "")


def test_set_with_a_digest_passes_the_real_check_which_wants_the_image_at_tag_and_digest(project):
    # The check compares each rendered image with the values' tag and digest: it passes only when
    # the chart pulls ghcr.io/zainasr/api-node:6063e25@<digest>.
    clone, env = project
    digest = "sha256:" + "0123456789abcdef" * 4

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25", "--digest", digest,
                           env=env)

    assert result.returncode == 0, result.stderr
    image = yaml.safe_load(clone.read("charts/api-node/values-dev.yaml"))["image"]
    assert (image["tag"], image["digest"]) == ("6063e25", digest)
