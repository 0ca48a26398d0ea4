"""`copy` between environments (behind the charts check) and `rollback` by revert."""
from __future__ import annotations

import json

import pytest
import yaml

from testbed.promotion_repo import PROJECT_RULES, Clone, install_competitor_hook, remote_history, snapshot

APP_SHA_1 = "1111111111111111111111111111111111111111"
APP_SHA_2 = "2222222222222222222222222222222222222222"


# dev from CI, staging from dev, prod from staging.
project_rules = pytest.mark.parametrize("rules", [PROJECT_RULES], ids=["project-rules"])


def image(clone: Clone, service: str, env: str) -> dict:
    return yaml.safe_load(clone.read(f"charts/{service}/values-{env}.yaml"))["image"]


def promote_ok(clone: Clone, *args: str, env=None) -> str:
    result = clone.promote(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def history(clone: Clone, *args: str) -> list[dict]:
    return json.loads(promote_ok(clone, "history", "--json", *args))


@project_rules
def test_copy_dev_to_staging_to_prod_round_trip(clone, tmp_path):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa",
               "--source-commit", APP_SHA_1)
    promote_ok(clone, "set", "--env", "dev", "--service", "core-go", "--tag", "bbbbbbb",
               "--repository", "ghcr.io/zainasr/core-go-next", "--source-commit", APP_SHA_2)
    staging_before = clone.read("charts/api-node/values-staging.yaml")
    check_log = tmp_path / "checks.log"
    env = {**clone.env, "FIXTURE_CHECK_LOG": str(check_log)}
    head = clone.head()

    out = promote_ok(clone, "copy", "--from", "dev", "--to", "staging", env=env)

    assert out == (f"promoted dev -> staging: api-node 1df3b1f -> aaaaaaa, core-go ghcr.io/zainasr/core-go:1234567 "
                   f"-> ghcr.io/zainasr/core-go-next:bbbbbbb (commit {clone.head()[:12]})\n")
    assert check_log.read_text() == "staging\n"
    assert clone.git("rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert clone.git("show", "--format=", "--name-only", "HEAD").split() == [
        "charts/api-node/values-staging.yaml", "charts/core-go/values-staging.yaml"]
    for service in ("api-node", "core-go", "worker-python"):
        assert image(clone, service, "staging") == image(clone, service, "dev")
    assert clone.read("charts/api-node/values-staging.yaml") == staging_before.replace(
        b'tag: "1df3b1f"', b'tag: "aaaaaaa"', 1)
    message = clone.git("log", "-1", "--format=%B")
    assert message.startswith("chore(promote): copy dev -> staging (api-node, core-go)\n\n"
                              "staging api-node: ghcr.io/zainasr/api-node:1df3b1f -> ghcr.io/zainasr/api-node:aaaaaaa\n"
                              "staging core-go: ghcr.io/zainasr/core-go:1234567 -> ghcr.io/zainasr/core-go-next:bbbbbbb\n"
                              "Checked with scripts/check_charts.py staging before committing.\n")
    assert f"Source-Commit: {APP_SHA_1}\nSource-Commit: {APP_SHA_2}\n" in message

    promote_ok(clone, "copy", "--from", "staging", "--to", "prod", env=env)

    assert check_log.read_text() == "staging\nprod\n"
    for service in ("api-node", "core-go", "worker-python"):
        assert image(clone, service, "prod") == image(clone, service, "dev")
    prod = {e["service"]: e for e in history(clone, "--env", "prod")}
    assert prod["api-node"]["kind"] == "copy" and prod["api-node"]["source_commit"] == APP_SHA_1
    assert prod["core-go"]["to"] == "ghcr.io/zainasr/core-go-next:bbbbbbb"
    assert clone.status() == ""


@project_rules
def test_copy_when_already_equal_is_a_no_op(clone):
    promote_ok(clone, "copy", "--from", "dev", "--to", "staging")
    before = snapshot(clone)

    out = promote_ok(clone, "copy", "--from", "dev", "--to", "staging")

    assert out == "staging already runs the dev images of api-node, core-go, worker-python; nothing to commit\n"
    assert snapshot(clone) == before


@project_rules
def test_copy_of_one_service(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "core-go", "--tag", "ccccccc")
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")

    promote_ok(clone, "copy", "--from", "dev", "--to", "staging", "--service", "core-go")

    assert image(clone, "core-go", "staging")["tag"] == "ccccccc"
    assert image(clone, "api-node", "staging")["tag"] == "1df3b1f"


@project_rules
def test_copy_is_refused_when_the_target_charts_fail_their_check(clone):
    # By hand: `set` runs the same check and would refuse the quarantined tag in dev.
    path = "charts/api-node/values-dev.yaml"
    clone.write(path, clone.read(path).replace(b'tag: "1df3b1f"', b'tag: "badbad0"'))
    clone.git("commit", "--quiet", "-am", "quarantined tag in dev")
    before = snapshot(clone)

    result = clone.promote("copy", "--from", "dev", "--to", "staging")

    assert result.returncode == 2
    assert result.stderr == (
        "error: charts check failed for staging (scripts/check_charts.py staging exited 1); nothing committed:\n"
        "render failed: charts/api-node/values-staging.yaml: image tag badbad0 is quarantined\n"
    )
    assert snapshot(clone) == before
    assert clone.status() == ""


@project_rules
def test_copy_refusals(clone):
    clone.write("charts/worker-python/values-dev.yaml",
                clone.read("charts/worker-python/values-dev.yaml").replace(b"'1df3b1f'", b"latest"))
    clone.git("commit", "--quiet", "-am", "hand edit")
    before = snapshot(clone)

    cases = [
        (["--from", "dev", "--to", "dev"], "--from and --to name the same environment"),
        (["--from", "dev", "--to", "qa"], "unknown environment 'qa' (known: dev, prod, staging)"),
        (["--from", "dev", "--to", "staging", "--service", "billing"],
         "unknown service 'billing' (known: api-node, core-go, worker-python)"),
        (["--from", "dev", "--to", "staging"],
         "charts/worker-python/values-dev.yaml: image.tag 'latest' cannot be promoted: expected a 7-40 "
         "character lowercase hex commit SHA or a sha256:<64 hex> digest"),
    ]
    for args, message in cases:
        result = clone.promote("copy", *args)
        assert (result.returncode, result.stderr) == (2, f"error: {message}\n"), args
        assert snapshot(clone) == before


@project_rules
def test_copy_without_a_check_script_is_refused(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    clone.git("rm", "--quiet", "scripts/check_charts.py")
    clone.git("commit", "--quiet", "-m", "no check")
    before = snapshot(clone)

    result = clone.promote("copy", "--from", "dev", "--to", "staging")

    assert (result.returncode, result.stderr) == (
        2, "error: scripts/check_charts.py is missing: cannot check the staging charts; nothing committed\n")
    assert snapshot(clone) == before


@project_rules
def test_copy_push_lands(remote, clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--push")

    out = promote_ok(clone, "copy", "--from", "dev", "--to", "staging", "--push")

    assert out.endswith("pushed to origin main (attempt 1 of 10)\n")
    assert [(e["kind"], e["env"], e["service"]) for e in remote_history(remote)] == [
        ("copy", "staging", "api-node"), ("copy", "staging", "core-go"), ("set", "dev", "api-node")]


def test_rollback_walks_back_promotion_by_promotion(clone):
    path = "charts/api-node/values-dev.yaml"
    original = clone.read(path)
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--source-commit", APP_SHA_1)
    first = clone.head()
    after_first = clone.read(path)
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "bbbbbbb", "--source-commit", APP_SHA_2)
    second = clone.head()

    out = promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")

    assert out == f"rolled back dev api-node bbbbbbb -> aaaaaaa (reverted {second[:12]}) (commit {clone.head()[:12]})\n"
    assert clone.read(path) == after_first
    assert clone.git("log", "-1", "--format=%B") == (
        "revert(promote): dev api-node bbbbbbb -> aaaaaaa\n\n"
        f"Rolls back {second[:12]} \"chore(promote): dev api-node aaaaaaa -> bbbbbbb\".\n"
        f"This reverts commit {second} for {path}.\n\n"
        "Promotion: kind=rollback env=dev service=api-node from=ghcr.io/zainasr/api-node:bbbbbbb "
        f"to=ghcr.io/zainasr/api-node:aaaaaaa source={APP_SHA_1} reverts={second}\n"
        "Promoted-Image: ghcr.io/zainasr/api-node:aaaaaaa\n"
        f"Source-Commit: {APP_SHA_1}\n\n"
    )

    out = promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")
    assert f"(reverted {first[:12]})" in out
    assert clone.read(path) == original

    result = clone.promote("rollback", "--env", "dev", "--service", "api-node")
    assert (result.returncode, result.stderr) == (2, "error: no promotion of api-node in dev to roll back\n")
    assert [(e["kind"], e["to"].rsplit(":", 1)[1]) for e in history(clone, "--env", "dev")] == [
        ("rollback", "1df3b1f"), ("rollback", "aaaaaaa"), ("set", "bbbbbbb"), ("set", "aaaaaaa")]


@project_rules
def test_rollback_of_a_copy_reverts_only_that_service(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    promote_ok(clone, "set", "--env", "dev", "--service", "core-go", "--tag", "bbbbbbb")
    promote_ok(clone, "copy", "--from", "dev", "--to", "staging")
    # A later promotion of api-node in staging must not block rolling back core-go.
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "ddddddd")
    promote_ok(clone, "copy", "--from", "dev", "--to", "staging", "--service", "api-node")

    promote_ok(clone, "rollback", "--env", "staging", "--service", "core-go")

    assert image(clone, "api-node", "staging")["tag"] == "ddddddd"
    # Restored as before the copy, but quoted: unquoted, 1234567 would be an int.
    assert b'  tag: "1234567"   # left unquoted' in clone.read("charts/core-go/values-staging.yaml")
    assert image(clone, "core-go", "staging") == {"repository": "ghcr.io/zainasr/core-go", "tag": "1234567",
                                                  "pullPolicy": "IfNotPresent"}


def test_rollback_ignores_commits_that_are_not_promotions(clone):
    promote_ok(clone, "set", "--env", "prod", "--service", "core-go", "--tag", "aaaaaaa")
    clone.write("charts/core-go/values-prod.yaml",
                clone.read("charts/core-go/values-prod.yaml").replace(b"replicaCount: 2", b"replicaCount: 3"))
    clone.git("commit", "--quiet", "-am", "scale core-go in prod")

    promote_ok(clone, "rollback", "--env", "prod", "--service", "core-go")

    values = yaml.safe_load(clone.read("charts/core-go/values-prod.yaml"))
    assert (values["image"]["tag"], values["replicaCount"]) == ("0a1b2c3", 3)


def test_conflicting_rollback_is_refused_and_leaves_the_tree_clean(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    promotion = clone.head()
    clone.write("charts/api-node/values-dev.yaml",
                clone.read("charts/api-node/values-dev.yaml").replace(b'"aaaaaaa"', b'"eeeeeee"'))
    clone.git("commit", "--quiet", "-am", "hotfix: pin api-node by hand")
    before = snapshot(clone)

    result = clone.promote("rollback", "--env", "dev", "--service", "api-node")

    assert result.returncode == 2
    assert result.stderr == (
        f"error: cannot roll back {promotion[:12]} (chore(promote): dev api-node 1df3b1f -> aaaaaaa): "
        "charts/api-node/values-dev.yaml has changed since in a way that conflicts with reverting it; "
        "nothing changed. Use `set` to promote the tag you want.\n"
    )
    assert snapshot(clone) == before
    assert clone.status() == ""


def test_rollback_push_refuses_when_a_newer_promotion_lands_first(remote):
    ours, theirs = remote.clone("ours"), remote.clone("theirs")
    promote_ok(ours, "set", "--env", "prod", "--service", "api-node", "--tag", "aaaaaaa", "--push")
    target = ours.head()
    install_competitor_hook(ours, theirs, [["set", "--env", "prod", "--service", "api-node", "--tag", "fffffff"]])

    result = ours.promote("rollback", "--env", "prod", "--service", "api-node", "--push")

    # It still undoes the promotion that was asked about, which now conflicts: refused, not
    # silently turned into a rollback of the newer one.
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot roll back {target[:12]} ")
    assert [e["to"].rsplit(":", 1)[1] for e in remote_history(remote)] == ["fffffff", "aaaaaaa"]
    assert ours.status() == ""


def test_rollback_push_lands_and_keeps_crlf(remote, clone):
    path = "charts/worker-python/values-staging.yaml"
    original = clone.read(path)
    promote_ok(clone, "set", "--env", "staging", "--service", "worker-python", "--tag", "aaaaaaa", "--push")

    out = promote_ok(clone, "rollback", "--env", "staging", "--service", "worker-python", "--push")

    assert out.endswith("pushed to origin main (attempt 1 of 10)\n")
    assert [e["kind"] for e in remote_history(remote)] == ["rollback", "set"]
    # Byte for byte, carriage returns and the original single quotes included.
    assert clone.read(path) == original


def test_history_filters_and_table(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--source-commit", APP_SHA_1)
    promote_ok(clone, "set", "--env", "prod", "--service", "core-go", "--tag", "bbbbbbb")

    assert [e["env"] for e in history(clone)] == ["prod", "dev"]
    assert [e["service"] for e in history(clone, "--service", "api-node")] == ["api-node"]
    assert history(clone, "--env", "staging") == []
    [entry] = history(clone, "--env", "dev")
    assert entry["author"] == "Promo Tester" and entry["email"] == "promo@example.com"
    assert entry["source_commit"] == APP_SHA_1 and entry["commit"] == clone.git("rev-parse", "HEAD~1").strip()

    table = promote_ok(clone, "history", "--env", "dev").splitlines()
    assert table[0].split() == ["DATE", "ENV", "SERVICE", "KIND", "CHANGE", "BY", "SOURCE", "COMMIT"]
    assert table[1].split()[1:] == ["dev", "api-node", "set", "1df3b1f", "->", "aaaaaaa", "Promo", "Tester",
                                   "<promo@example.com>", APP_SHA_1, entry["commit"][:12]]
    assert promote_ok(clone, "history", "--env", "staging") == "no promotions found\n"
    assert [e["env"] for e in history(clone, "--limit", "1")] == ["prod"]
    result = clone.promote("history", "--limit", "0")
    assert (result.returncode, result.stderr) == (2, "error: --limit must be at least 1\n")


DIGEST = "sha256:" + "0123456789abcdef" * 4


@project_rules
def test_copy_carries_the_digest_with_the_tag(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--digest", DIGEST)

    promote_ok(clone, "copy", "--from", "dev", "--to", "staging", "--service", "api-node")

    assert image(clone, "api-node", "staging") == image(clone, "api-node", "dev") == {
        "repository": "ghcr.io/zainasr/api-node", "tag": "aaaaaaa", "digest": DIGEST, "pullPolicy": "IfNotPresent"}
    [entry] = history(clone, "--env", "staging")
    assert entry["to"] == f"ghcr.io/zainasr/api-node:aaaaaaa@{DIGEST}"


def test_rollback_restores_the_tag_and_the_digest(clone):
    path = "charts/api-node/values-dev.yaml"
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--digest", DIGEST)
    pinned = clone.read(path)
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "bbbbbbb")

    out = promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")

    assert out.startswith(f"rolled back dev api-node bbbbbbb -> aaaaaaa@{DIGEST} ")
    assert clone.read(path) == pinned


def test_history_shows_the_digest_beside_the_tag(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa", "--digest", DIGEST)

    table = promote_ok(clone, "history", "--env", "dev").splitlines()

    assert table[1].split()[4:7] == ["1df3b1f", "->", f"aaaaaaa@{DIGEST}"]
