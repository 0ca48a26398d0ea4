"""A plain `git revert` of a promotion commit, the rollback the README names: `history` shows it as
a rollback of that promotion, and `rollback` counts it as one."""
from __future__ import annotations

import json

import pytest

from testbed.promotion_repo import PROJECT_RULES, Clone, git

APP_SHA_1 = "1111111111111111111111111111111111111111"
APP_SHA_2 = "2222222222222222222222222222222222222222"
PROMOTED_AT = "2026-03-01T10:00:00+00:00"
REVERTED_AT = "2026-03-02T11:30:00+00:00"
# Someone other than the promoter reverts, so the tests see whose name history shows.
JANE = {"GIT_AUTHOR_NAME": "Jane Ops", "GIT_AUTHOR_EMAIL": "jane@example.com", "GIT_AUTHOR_DATE": REVERTED_AT}


def promote_ok(clone: Clone, *args: str) -> str:
    result = clone.promote(*args, env={**clone.env, "GIT_AUTHOR_DATE": PROMOTED_AT})
    assert result.returncode == 0, result.stderr
    return result.stdout


def git_revert(clone: Clone, commit: str) -> str:
    """`git revert --no-edit commit` by Jane; the revert commit."""
    git(clone.path, {**clone.env, **JANE}, "revert", "--no-edit", commit)
    return clone.head()


def history(clone: Clone, *args: str) -> list[dict]:
    return json.loads(promote_ok(clone, "history", "--json", *args))


def tag(clone: Clone, service: str, env: str) -> bytes:
    text = clone.read(f"charts/{service}/values-{env}.yaml")
    return next(line.split(b":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith(b"tag:"))


def test_history_shows_a_git_revert_of_a_promotion_as_a_rollback_by_its_author_at_its_date(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa",
               "--source-commit", APP_SHA_1)
    promotion = clone.head()
    revert = git_revert(clone, promotion)

    assert promote_ok(clone, "history", "--env", "dev").splitlines() == [
        "DATE                       ENV  SERVICE   KIND      CHANGE              BY                                "
        "SOURCE                                    COMMIT",
        f"{REVERTED_AT}  dev  api-node  rollback  aaaaaaa -> 1df3b1f  Jane Ops <jane@example.com>       "
        f"-                                         {revert[:12]}",
        f"{PROMOTED_AT}  dev  api-node  set       1df3b1f -> aaaaaaa  Promo Tester <promo@example.com>  "
        f"{APP_SHA_1}  {promotion[:12]}",
    ]


def test_history_json_of_a_git_revert_names_the_promotion_it_reverts_and_the_source_it_restores(clone):
    promote_ok(clone, "set", "--env", "prod", "--service", "core-go", "--tag", "aaaaaaa",
               "--source-commit", APP_SHA_1)
    promote_ok(clone, "set", "--env", "prod", "--service", "core-go", "--tag", "bbbbbbb",
               "--source-commit", APP_SHA_2)
    promotion = clone.head()
    revert = git_revert(clone, promotion)

    assert history(clone, "--limit", "1") == [{
        "commit": revert, "date": REVERTED_AT, "author": "Jane Ops", "email": "jane@example.com",
        "kind": "rollback", "env": "prod", "service": "core-go",
        "from": "ghcr.io/zainasr/core-go:bbbbbbb", "to": "ghcr.io/zainasr/core-go:aaaaaaa",
        "source_commit": APP_SHA_1, "reverts": promotion, "run_url": None,
    }]


@pytest.mark.parametrize("rules", [PROJECT_RULES], ids=["project-rules"])
def test_git_revert_of_a_copy_rolls_back_every_service_that_copy_promoted(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    promote_ok(clone, "set", "--env", "dev", "--service", "core-go", "--tag", "bbbbbbb")
    promote_ok(clone, "copy", "--from", "dev", "--to", "staging")
    copy = clone.head()
    revert = git_revert(clone, copy)

    assert [(e["commit"], e["kind"], e["service"], e["from"], e["to"], e["reverts"])
            for e in history(clone, "--env", "staging")] == [
        (revert, "rollback", "api-node", "ghcr.io/zainasr/api-node:aaaaaaa", "ghcr.io/zainasr/api-node:1df3b1f", copy),
        (revert, "rollback", "core-go", "ghcr.io/zainasr/core-go:bbbbbbb", "ghcr.io/zainasr/core-go:1234567", copy),
        (copy, "copy", "api-node", "ghcr.io/zainasr/api-node:1df3b1f", "ghcr.io/zainasr/api-node:aaaaaaa", None),
        (copy, "copy", "core-go", "ghcr.io/zainasr/core-go:1234567", "ghcr.io/zainasr/core-go:bbbbbbb", None),
    ]


def test_history_filters_a_git_revert_by_the_env_and_service_of_the_promotion_it_reverts(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    git_revert(clone, clone.head())

    assert promote_ok(clone, "history", "--env", "prod") == "no promotions found\n"
    assert promote_ok(clone, "history", "--service", "core-go") == "no promotions found\n"
    assert [(e["kind"], e["env"], e["service"]) for e in history(clone, "--env", "dev", "--service", "api-node")] == [
        ("rollback", "dev", "api-node"), ("set", "dev", "api-node")]


def test_history_does_not_show_a_git_revert_of_a_commit_that_is_not_a_promotion(clone):
    promote_ok(clone, "set", "--env", "prod", "--service", "core-go", "--tag", "aaaaaaa")
    promotion = clone.head()
    clone.write("charts/core-go/values-prod.yaml",
                clone.read("charts/core-go/values-prod.yaml").replace(b"replicaCount: 2", b"replicaCount: 3"))
    clone.git("commit", "--quiet", "-am", "scale core-go in prod")
    git_revert(clone, clone.head())

    assert promote_ok(clone, "history").splitlines() == [
        "DATE                       ENV   SERVICE  KIND  CHANGE              BY                                SOURCE  COMMIT",
        f"{PROMOTED_AT}  prod  core-go  set   0a1b2c3 -> aaaaaaa  Promo Tester <promo@example.com>  -       "
        f"{promotion[:12]}",
    ]


def test_rollback_after_a_git_revert_rolls_back_the_promotion_before_the_reverted_one(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    first = clone.head()
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "bbbbbbb")
    git_revert(clone, clone.head())

    out = promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")

    assert out == f"rolled back dev api-node aaaaaaa -> 1df3b1f (reverted {first[:12]}) (commit {clone.head()[:12]})\n"
    assert tag(clone, "api-node", "dev") == b'"1df3b1f"'


def test_rollback_after_a_git_revert_of_a_rollback_rolls_back_the_restored_promotion_again(clone):
    promote_ok(clone, "set", "--env", "dev", "--service", "api-node", "--tag", "aaaaaaa")
    promotion = clone.head()
    promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")
    git_revert(clone, clone.head())
    assert tag(clone, "api-node", "dev") == b'"aaaaaaa"'

    out = promote_ok(clone, "rollback", "--env", "dev", "--service", "api-node")

    assert out == (f"rolled back dev api-node aaaaaaa -> 1df3b1f (reverted {promotion[:12]}) "
                   f"(commit {clone.head()[:12]})\n")
    assert tag(clone, "api-node", "dev") == b'"1df3b1f"'
