"""`promote.py set`: one values line (or two) changes, in one commit, or nothing happens at all."""
from __future__ import annotations

import yaml
import pytest

from testbed.promotion_repo import Clone, snapshot

DIGEST = "sha256:" + "0123456789abcdef" * 4


def commit_message(clone: Clone, rev: str = "HEAD") -> str:
    return clone.git("log", "-1", "--format=%B", rev).rstrip("\n") + "\n"


def trailers(clone: Clone, rev: str = "HEAD") -> list[str]:
    return clone.git("log", "-1", "--format=%(trailers:only,unfold)", rev).strip().splitlines()


def test_set_changes_only_the_tag_line_and_commits_once(clone):
    path = "charts/api-node/values-dev.yaml"
    before, head = clone.read(path), clone.head()

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25",
                           "--source-commit", "6063e25aa1b2c3d4e5f60718293a4b5c6d7e8f90")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    new_head = clone.head()
    assert result.stdout == f"promoted dev api-node 1df3b1f -> 6063e25 (commit {new_head[:12]})\n"
    after = clone.read(path)
    assert after == before.replace(b'  tag: "1df3b1f"\n', b'  tag: "6063e25"\n', 1)
    values = yaml.safe_load(after)
    assert values["image"]["tag"] == "6063e25" and isinstance(values["image"]["tag"], str)
    assert values["sidecar"]["image"]["tag"] == "1234567"
    assert clone.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert clone.git("show", "--format=", "--name-only", "HEAD").split() == [path]
    assert clone.status() == ""
    assert commit_message(clone) == (
        "chore(promote): dev api-node 1df3b1f -> 6063e25\n\n"
        f"{path}: ghcr.io/zainasr/api-node:1df3b1f -> ghcr.io/zainasr/api-node:6063e25\n\n"
        "Promotion: kind=set env=dev service=api-node from=ghcr.io/zainasr/api-node:1df3b1f "
        "to=ghcr.io/zainasr/api-node:6063e25 source=6063e25aa1b2c3d4e5f60718293a4b5c6d7e8f90\n"
        "Promoted-Image: ghcr.io/zainasr/api-node:6063e25\n"
        "Source-Commit: 6063e25aa1b2c3d4e5f60718293a4b5c6d7e8f90\n"
    )


@pytest.mark.parametrize("env, old_line", [
    ("dev", b"  tag: 6063e25   # left"), ("staging", b"  tag: 1234567   # left"),
])
def test_unquoted_tags_are_written_quoted_and_stay_strings(clone, env, old_line):
    path = f"charts/core-go/values-{env}.yaml"
    before = clone.read(path)
    assert old_line in before
    new_tag = "1234567" if env == "dev" else "6063e25"

    result = clone.promote("set", "--env", env, "--service", "core-go", "--tag", new_tag)

    assert result.returncode == 0, result.stderr
    after = clone.read(path)
    assert after == before.replace(old_line, f'  tag: "{new_tag}"   # left'.encode(), 1)
    assert yaml.safe_load(after)["image"]["tag"] == new_tag
    assert b"      tag: 6063e25\n" in after  # the exporter's image is not the promoted one


def test_set_with_repository_changes_both_lines(clone):
    path = "charts/worker-python/values-staging.yaml"
    before = clone.read(path)

    result = clone.promote("set", "--env", "staging", "--service", "worker-python", "--tag", DIGEST,
                           "--repository", "ghcr.io/zainasr/worker-python-ng")

    assert result.returncode == 0, result.stderr
    assert clone.read(path) == before.replace(
        b'repository: "ghcr.io/zainasr/worker-python"', b'repository: "ghcr.io/zainasr/worker-python-ng"'
    ).replace(b"tag: '1df3b1f'", f'tag: "{DIGEST}"'.encode())
    assert f"Promoted-Image: ghcr.io/zainasr/worker-python-ng@{DIGEST}" in trailers(clone)
    assert commit_message(clone).splitlines()[0] == (
        f"chore(promote): staging worker-python ghcr.io/zainasr/worker-python:1df3b1f -> "
        f"ghcr.io/zainasr/worker-python-ng@{DIGEST}"
    )


def test_same_tag_is_a_no_op_without_commit(clone):
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1df3b1f")

    assert result.returncode == 0
    assert result.stdout == "dev api-node is already at ghcr.io/zainasr/api-node:1df3b1f; nothing to commit\n"
    assert snapshot(clone) == before


BAD_TAG = "expected a 7-40 character lowercase hex commit SHA or a sha256:<64 hex> digest"


@pytest.mark.parametrize("args, message", [
    (["--env", "qa", "--service", "api-node", "--tag", "1234567"],
     "unknown environment 'qa' (known: dev, prod, staging)"),
    (["--env", "../../etc", "--service", "api-node", "--tag", "1234567"],
     "unknown environment '../../etc' (known: dev, prod, staging)"),
    (["--env", "dev", "--service", "billing", "--tag", "1234567"],
     "unknown service 'billing' (known: api-node, core-go, worker-python)"),
    (["--env", "dev", "--service", "platform-lib", "--tag", "1234567"],
     "unknown service 'platform-lib' (known: api-node, core-go, worker-python)"),
    (["--env", "dev", "--service", "api-node", "--tag", "latest"], f"invalid tag 'latest': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", ""], f"invalid tag '': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", "../x"], f"invalid tag '../x': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", "$(touch pwned)"],
     f"invalid tag '$(touch pwned)': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", "1234567; id"], f"invalid tag '1234567; id': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", "1234567\nimage: x"],
     f"invalid tag '1234567\\nimage: x': {BAD_TAG}"),
    (["--env", "dev", "--service", "api-node", "--tag", "1234567", "--repository", "ghcr.io/a/b:latest"],
     "invalid image repository 'ghcr.io/a/b:latest': expected a fully qualified image name such as "
     "ghcr.io/zainasr/api-node (lowercase registry host and path, without tag or digest)"),
    (["--env", "dev", "--service", "api-node", "--tag", "1234567", "--source-commit", "HEAD"],
     "invalid source commit 'HEAD': expected a 7-40 character lowercase hex commit SHA"),
])
def test_refusals_exit_2_with_the_problem_and_touch_nothing(clone, args, message):
    before = snapshot(clone)

    result = clone.promote("set", *args)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    assert snapshot(clone) == before
    assert not (clone.path / "pwned").exists()


def test_dirty_work_tree_is_refused(clone):
    clone.write("charts/core-go/values.yaml", b"# local edit\n")
    clone.write("notes.txt", b"scratch\n")
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567")

    assert result.returncode == 2
    assert result.stderr == (
        "error: work tree is not clean; commit or stash these changes first:\n"
        " M charts/core-go/values.yaml\n?? notes.txt\n"
    )
    assert snapshot(clone) == before


def test_missing_values_file_is_refused(clone):
    clone.git("rm", "--quiet", "charts/core-go/values-prod.yaml")
    clone.git("commit", "--quiet", "-m", "drop prod values")
    before = snapshot(clone)

    result = clone.promote("set", "--env", "prod", "--service", "core-go", "--tag", "1234567")

    assert (result.returncode, result.stderr) == (2, "error: charts/core-go/values-prod.yaml does not exist\n")
    assert snapshot(clone) == before


def test_new_stack_and_chart_are_discovered_without_code_changes(clone):
    clone.write("Pulumi.qa.yaml", b"config: {}\n")
    # A new stack is data in promotion.yaml too: it says where qa's images come from.
    clone.write("promotion.yaml", clone.read("promotion.yaml") + b"  qa:\n    from: ci\n")
    (clone.path / "charts" / "billing").mkdir()
    clone.write("charts/billing/Chart.yaml", b"apiVersion: v2\nname: billing\nversion: 0.1.0\n")
    clone.write("charts/billing/values-qa.yaml", b"image:\n  repository: ghcr.io/zainasr/billing\n  tag: \"0000000\"\n")
    clone.git("add", "--all")
    clone.git("commit", "--quiet", "-m", "add qa and billing")

    assert clone.promote("list", "envs").stdout == "dev\nprod\nqa\nstaging\n"
    assert clone.promote("list", "services").stdout == "api-node\nbilling\ncore-go\nworker-python\n"
    result = clone.promote("set", "--env", "qa", "--service", "billing", "--tag", "1234567")
    assert result.returncode == 0, result.stderr


def test_github_sha_is_the_source_only_when_it_is_not_a_commit_of_this_repository(clone):
    app_sha = "0123456789abcdef0123456789abcdef01234567"
    env = {**clone.env, "GITHUB_SHA": app_sha, "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "zainasr/platform-ops", "GITHUB_RUN_ID": "42"}
    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567", env=env)
    assert result.returncode == 0, result.stderr
    assert trailers(clone)[-2:] == [
        f"Source-Commit: {app_sha}",
        "Promotion-Run: https://github.com/zainasr/platform-ops/actions/runs/42",
    ]

    own_sha = clone.head()  # what GITHUB_SHA is inside this repository's own workflows
    env = {**clone.env, "GITHUB_SHA": own_sha}
    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "7654321", env=env)
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("Source-Commit:") for line in trailers(clone))


def test_repo_option_works_from_another_directory(clone, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import subprocess
    result = subprocess.run(
        clone.promote_cmd("--repo", str(clone.path), "set", "--env", "prod", "--service", "api-node",
                          "--tag", "abcdef0"),
        cwd=elsewhere, env=clone.env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert b'tag: "abcdef0"' in clone.read("charts/api-node/values-prod.yaml")


def test_outside_a_repository_is_refused(tmp_path, clone):
    import subprocess
    result = subprocess.run(
        clone.promote_cmd("set", "--env", "dev", "--service", "api-node", "--tag", "1234567"),
        cwd=tmp_path, env=clone.env, capture_output=True, text=True,
    )
    assert (result.returncode, result.stderr) == (2, f"error: {tmp_path} is not inside a git work tree\n")


def test_a_short_repository_in_the_file_must_be_replaced(clone):
    path = "charts/api-node/values-prod.yaml"
    clone.write(path, clone.read(path).replace(b"repository: ghcr.io/zainasr/api-node", b"repository: api-node"))
    clone.git("commit", "--quiet", "-am", "short name")
    before = snapshot(clone)

    result = clone.promote("set", "--env", "prod", "--service", "api-node", "--tag", "1234567")

    assert (result.returncode, result.stderr) == (2, (
        "error: charts/api-node/values-prod.yaml: image.repository 'api-node' is invalid (expected a fully "
        "qualified image name such as ghcr.io/zainasr/api-node (lowercase registry host and path, without tag "
        "or digest)); pass --repository\n"))
    assert snapshot(clone) == before
    result = clone.promote("set", "--env", "prod", "--service", "api-node", "--tag", "1234567",
                           "--repository", "ghcr.io/zainasr/api-node")
    assert result.returncode == 0, result.stderr


OTHER_DIGEST = "sha256:" + "f" * 64


def test_set_with_a_digest_writes_it_beside_the_tag_and_names_the_pinned_image(clone):
    path = "charts/api-node/values-dev.yaml"
    before = clone.read(path)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25", "--digest", DIGEST)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"promoted dev api-node 1df3b1f -> 6063e25@{DIGEST} (commit {clone.head()[:12]})\n"
    assert clone.read(path) == before.replace(b'  tag: "1df3b1f"\n', f'  tag: "6063e25"\n  digest: "{DIGEST}"\n'.encode())
    assert trailers(clone) == [
        "Promotion: kind=set env=dev service=api-node from=ghcr.io/zainasr/api-node:1df3b1f "
        f"to=ghcr.io/zainasr/api-node:6063e25@{DIGEST}",
        f"Promoted-Image: ghcr.io/zainasr/api-node:6063e25@{DIGEST}",
    ]


def test_a_new_tag_without_a_digest_removes_the_digest_of_the_old_image(clone):
    path = "charts/api-node/values-dev.yaml"
    before = clone.read(path)
    assert clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25",
                         "--digest", DIGEST).returncode == 0

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"promoted dev api-node 6063e25@{DIGEST} -> 1234567 ")
    assert clone.read(path) == before.replace(b'tag: "1df3b1f"', b'tag: "1234567"', 1)


def test_the_same_tag_without_a_digest_keeps_the_digest_recorded_for_it(clone):
    assert clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25",
                         "--digest", DIGEST).returncode == 0
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25")

    assert (result.returncode, result.stdout) == (
        0, f"dev api-node is already at ghcr.io/zainasr/api-node:6063e25@{DIGEST}; nothing to commit\n")
    assert snapshot(clone) == before


def test_a_new_digest_for_the_same_tag_replaces_the_old_one(clone):
    assert clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25",
                         "--digest", DIGEST).returncode == 0

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "6063e25",
                           "--digest", OTHER_DIGEST)

    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(clone.read("charts/api-node/values-dev.yaml"))["image"]["digest"] == OTHER_DIGEST


@pytest.mark.parametrize("args, message", [
    (["--tag", "6063e25", "--digest", "sha256:abc"],
     "invalid digest 'sha256:abc': expected sha256:<64 lowercase hex>, the digest the image build reports"),
    (["--tag", "6063e25", "--digest", DIGEST.upper()],
     f"invalid digest '{DIGEST.upper()}': expected sha256:<64 lowercase hex>, the digest the image build reports"),
    (["--tag", DIGEST, "--digest", DIGEST], "--digest pins the image of a commit-SHA tag; --tag is already a digest"),
])
def test_a_bad_digest_is_refused(clone, args, message):
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", *args)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    assert snapshot(clone) == before
