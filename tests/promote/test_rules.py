"""The path to prod: promotion.yaml says where each environment's images come from, `set` goes only
into environments fed by CI, `copy` only along the rules, and both pass the charts check first."""
from __future__ import annotations

import pytest

from platform_ops.layout import stacks
from platform_ops.promotion import rules as promotion_rules
from platform_ops.promotion.rules import InvalidRules
from testbed.promotion_repo import PROJECT_RULES, REPO_ROOT, snapshot

project_rules = pytest.mark.parametrize("rules", [PROJECT_RULES], ids=["project-rules"])
STACKS = ["dev", "prod", "staging"]


def parse_problems(text: str) -> list[str]:
    with pytest.raises(InvalidRules) as error:
        promotion_rules.parse(text, STACKS)
    return error.value.problems


def test_the_repository_promotes_dev_from_ci_staging_from_dev_and_prod_from_staging():
    rules = promotion_rules.load(REPO_ROOT)
    assert rules.sources == {"dev": "ci", "staging": "dev", "prod": "staging"}
    assert sorted(rules.sources) == stacks(REPO_ROOT)


def test_quoted_keys_values_and_comments_are_read():
    text = ("# rules\nenvironments:   # every stack\n  'dev':\n    from: \"ci\"  # CI\n\n"
            "  staging:\n    from: 'dev'\n  prod:\n    from: staging\n")
    assert promotion_rules.parse(text, STACKS).sources == {"dev": "ci", "staging": "dev", "prod": "staging"}


@pytest.mark.parametrize("text, problems", [
    ("", ["promotion.yaml: environments: missing: a mapping of each environment to its source"]),
    ("environments: dev\n", ["promotion.yaml:1: environments: must be a mapping of each environment to its source"]),
    ("environments: {dev: ci}\n", ["promotion.yaml:1: expected `key:` or `key: value` (block mappings only)"]),
    ("environments:\n  - dev\n", ["promotion.yaml:2: expected `key:` or `key: value` (block mappings only)"]),
    ("environments:\n\tdev:\n", ["promotion.yaml:2: tab in indentation"]),
    ("environments:\n  dev:\n    from: ci\n   staging:\n",
     ["promotion.yaml:4: inconsistent indentation"]),
    ("environments:\n  dev:\n    from: ci\n  dev:\n    from: ci\n", ["promotion.yaml:4: environments.dev: duplicate key"]),
    ("environments:\n  dev:\n    from: ci\n    from: ci\n", ["promotion.yaml:4: environments.dev.from: duplicate key"]),
    # Every problem of a file that can be read, in file order, in one run.
    ("version: 1\nenvironments:\n  dev:\n    from: ci\n    reviewers: 2\n  staging:\n    from: qa\n"
     "  qa:\n    from: dev\n  ci:\n    from: dev\n", [
        "promotion.yaml:1: version: unknown key (known: environments)",
        "promotion.yaml:2: environments.prod: missing: Pulumi.prod.yaml is a stack, so it needs a source",
        "promotion.yaml:5: environments.dev.reviewers: unknown key (known: from)",
        "promotion.yaml:7: environments.staging.from: 'qa' is neither ci nor an environment "
        "(known: dev, prod, staging)",
        "promotion.yaml:8: environments.qa: no such environment: there is no Pulumi.qa.yaml "
        "(known: dev, prod, staging)",
        "promotion.yaml:10: environments.ci: 'ci' stands for the applications' CI and cannot be an environment",
    ]),
    ("environments:\n  dev:\n    from: ci\n  staging: dev\n  prod:\n    to: dev\n", [
        "promotion.yaml:4: environments.staging: must be a mapping with `from: <ci or an environment>`",
        "promotion.yaml:5: environments.prod.from: missing: ci or the environment prod promotes from",
        "promotion.yaml:6: environments.prod.to: unknown key (known: from)",
    ]),
    ("environments:\n  dev:\n    from: dev\n  staging:\n    from:\n  prod:\n    from: staging\n", [
        "promotion.yaml:3: environments.dev.from: an environment cannot promote from itself",
        "promotion.yaml:5: environments.staging.from: must be ci or an environment, not a mapping or empty",
    ]),
    ("environments:\n  dev:\n    from: ci\n  staging:\n    from: prod\n  prod:\n    from: staging\n",
     ["promotion.yaml:4: environments.staging.from: staging <- prod <- staging is a cycle that never reaches ci"]),
])
def test_invalid_rules_are_reported_with_file_line_and_key(text, problems):
    assert parse_problems(text) == problems


@project_rules
def test_an_environment_fed_by_another_is_refused_set_with_the_copy_to_run(clone):
    before = snapshot(clone)

    result = clone.promote("set", "--env", "prod", "--service", "api-node", "--tag", "1234567")

    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        "error: prod is fed by staging, not by CI (promotion.yaml): set is refused; promote what staging runs "
        "with `scripts/promote.py copy --from staging --to prod --service api-node`\n"))
    assert snapshot(clone) == before


@project_rules
@pytest.mark.parametrize("args, message", [
    (["--from", "dev", "--to", "prod"], "prod is fed by staging, not by dev (promotion.yaml): copy is refused; "
                                       "use `scripts/promote.py copy --from staging --to prod`"),
    (["--from", "staging", "--to", "dev"], "dev is fed by CI, not by staging (promotion.yaml): copy is refused; "
                                          "use `scripts/promote.py set --env dev`"),
])
def test_copy_is_refused_unless_the_target_is_fed_by_the_source(clone, args, message):
    before = snapshot(clone)

    result = clone.promote("copy", *args)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    assert snapshot(clone) == before


@project_rules
def test_rollback_is_allowed_in_an_environment_fed_by_another(clone):
    assert clone.promote("set", "--env", "dev", "--service", "core-go", "--tag", "aaaaaaa").returncode == 0
    assert clone.promote("copy", "--from", "dev", "--to", "staging").returncode == 0
    assert clone.promote("copy", "--from", "staging", "--to", "prod").returncode == 0

    result = clone.promote("rollback", "--env", "prod", "--service", "core-go")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rolled back prod core-go aaaaaaa -> 0a1b2c3 ")


def test_rollback_works_while_the_rules_are_broken(clone):
    assert clone.promote("set", "--env", "prod", "--service", "core-go", "--tag", "aaaaaaa").returncode == 0
    clone.write("promotion.yaml", b"environments:\n  prod:\n    from: prod\n")
    clone.git("commit", "--quiet", "-am", "break the rules")

    result = clone.promote("rollback", "--env", "prod", "--service", "core-go")

    assert result.returncode == 0, result.stderr


def test_set_and_copy_are_refused_with_every_problem_of_the_rules_and_write_nothing(clone):
    clone.write("promotion.yaml", b"environments:\n  dev:\n    from: ci\n  staging:\n    from: qa\n")
    clone.git("commit", "--quiet", "-am", "bad rules")
    before = snapshot(clone)
    expected = (
        "error: promotion.yaml:1: environments.prod: missing: Pulumi.prod.yaml is a stack, so it needs a source\n"
        "error: promotion.yaml:5: environments.staging.from: 'qa' is neither ci nor an environment "
        "(known: dev, prod, staging)\n")

    for args in (["set", "--env", "dev", "--service", "api-node", "--tag", "1234567"],
                 ["copy", "--from", "dev", "--to", "staging"]):
        result = clone.promote(*args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", expected), args
        assert snapshot(clone) == before


def test_set_without_rules_is_refused(clone):
    clone.git("rm", "--quiet", "promotion.yaml")
    clone.git("commit", "--quiet", "-m", "no rules")
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567")

    assert (result.returncode, result.stderr) == (
        2, "error: promotion.yaml: missing: every environment needs a source (see docs/promotion.md)\n")
    assert snapshot(clone) == before


def test_set_runs_the_charts_check_of_the_environment_before_committing(clone, tmp_path):
    check_log = tmp_path / "checks.log"
    env = {**clone.env, "FIXTURE_CHECK_LOG": str(check_log)}

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "1234567", env=env)

    assert result.returncode == 0, result.stderr
    assert check_log.read_text() == "dev\n"


def test_set_is_refused_when_the_charts_check_fails(clone):
    before = snapshot(clone)

    result = clone.promote("set", "--env", "dev", "--service", "api-node", "--tag", "badbad0")

    assert (result.returncode, result.stdout, result.stderr) == (2, "", (
        "error: charts check failed for dev (scripts/check_charts.py dev exited 1); nothing committed:\n"
        "render failed: charts/api-node/values-dev.yaml: image tag badbad0 is quarantined\n"))
    assert snapshot(clone) == before


@project_rules
@pytest.mark.parametrize("args, out", [
    (["set", "--env", "dev", "--service", "api-node", "--tag", "1234567"], "ok: set dev api-node 1234567\n"),
    (["copy", "--from", "dev", "--to", "staging"], "ok: copy dev -> staging (every service)\n"),
    (["copy", "--from", "staging", "--to", "prod", "--service", "core-go"], "ok: copy staging -> prod (core-go)\n"),
])
def test_check_accepts_a_request_the_rules_allow_and_touches_nothing(clone, args, out):
    before = snapshot(clone)

    result = clone.promote("check", *args)

    assert (result.returncode, result.stdout, result.stderr) == (0, out, "")
    assert snapshot(clone) == before


@project_rules
@pytest.mark.parametrize("args, message", [
    (["set", "--env", "staging", "--service", "api-node", "--tag", "1234567"],
     "staging is fed by dev, not by CI (promotion.yaml): set is refused; promote what dev runs with "
     "`scripts/promote.py copy --from dev --to staging --service api-node`"),
    (["set", "--env", "dev", "--service", "api-node", "--tag", "latest"],
     "invalid tag 'latest': expected a 7-40 character lowercase hex commit SHA or a sha256:<64 hex> digest"),
    (["set", "--env", "dev", "--service", "api-node", "--tag", "1234567", "--source-commit", "main"],
     "invalid source commit 'main': expected a 7-40 character lowercase hex commit SHA"),
    (["copy", "--from", "dev", "--to", "prod"],
     "prod is fed by staging, not by dev (promotion.yaml): copy is refused; "
     "use `scripts/promote.py copy --from staging --to prod`"),
    (["copy", "--from", "dev", "--to", "staging", "--service", "billing"],
     "unknown service 'billing' (known: api-node, core-go, worker-python)"),
])
def test_check_refuses_what_set_and_copy_would_refuse(clone, args, message):
    before = snapshot(clone)

    result = clone.promote("check", *args)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    assert snapshot(clone) == before
