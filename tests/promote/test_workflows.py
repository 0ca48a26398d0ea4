"""The GitHub Actions workflows: actionlint-clean, pinned, injection-safe, and doing what the
promotion flow relies on. The promote step's own script is run against a fixture remote."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.promote import workflow_checks as checks
from testbed.promotion_repo import PROJECT_RULES, REPO_ROOT, Remote, Symlink

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
NAMES = ("ci.yml", "preview.yml", "promote.yml", "e2e.yml", "drift.yml")


def workflow(name: str) -> dict:
    return checks.load((WORKFLOWS / name).read_text())


def actionlint(tool, *paths: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("actionlint"), "-no-color", *map(str, paths)], cwd=cwd,
                          capture_output=True, text=True)


def test_the_five_workflows_exist():
    assert sorted(path.name for path in WORKFLOWS.glob("*.yml")) == sorted(NAMES)


def test_actionlint_passes(tool):
    result = actionlint(tool, *sorted(WORKFLOWS.glob("*.yml")), cwd=REPO_ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_catches_a_broken_workflow(tool, tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  build:\n"
        "    steps:\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n"
    )
    result = actionlint(tool, broken, cwd=tmp_path)
    assert result.returncode == 1
    assert '"runs-on" section is missing in job "build"' in result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout
    assert 'property "nope" is not defined in object type' in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_by_commit_sha(name):
    assert checks.unpinned_actions((WORKFLOWS / name).read_text()) == []


def test_pin_check_catches_tags_and_missing_version_comments():
    text = (
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-go@4dc6199c7b1a012772edbd06daecab0f50c9053c\n"
        "      - uses: actions/cache@0057852bfaa89a56745cba8c7296529d2fc39830 # v4.3.0\n"
        "      - uses: ./.github/actions/local\n"
    )
    assert checks.unpinned_actions(text) == [
        "line 2: actions/checkout@v4 is not pinned to a full commit SHA",
        "line 3: actions/setup-go@4dc6199c7b1a012772edbd06daecab0f50c9053c has no '# vX.Y.Z' comment "
        "naming the pinned version",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_is_expanded_inside_a_script(name):
    assert checks.expressions_in_scripts(workflow(name)) == []


def test_injection_check_catches_expressions_in_run_and_github_script():
    bad = checks.load(
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: python scripts/promote.py set --tag ${{ inputs.tag }}\n"
        "      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0\n"
        "        with:\n          script: console.log('${{ github.event.client_payload.tag }}')\n"
    )
    assert checks.expressions_in_scripts(bad) == [
        "j.steps[0]: expression inside run", "j.steps[1]: expression inside github-script"]


def test_ci_runs_make_test_on_pull_requests_and_pushes():
    ci = workflow("ci.yml")
    assert {"pull_request", "push"} <= set(ci["on"])
    assert checks.find_step(ci, lambda s: "run" in s)["run"].strip() == "make test"
    uses = [step.get("uses", "") for _, step in checks.steps(ci)]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/setup-go@") for u in uses)
    assert any(u.startswith("actions/cache@") for u in uses)


def test_promote_triggers_concurrency_and_permissions():
    promote = workflow("promote.yml")
    assert set(promote["on"]["workflow_dispatch"]["inputs"]) == {
        "action", "environment", "service", "tag", "digest", "source_commit", "from"}
    assert promote["on"]["workflow_dispatch"]["inputs"]["action"]["options"] == ["set", "copy"]
    assert promote["on"]["repository_dispatch"] == {"types": ["promote"]}
    concurrency = promote["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert "environment" in concurrency["group"] and "service" in concurrency["group"]
    assert promote["permissions"] == {"contents": "read"}
    for variable in ("PROMOTE_ENVIRONMENT", "PROMOTE_SERVICE", "PROMOTE_TAG", "PROMOTE_DIGEST", "PROMOTE_SOURCE_COMMIT"):
        assert "client_payload" in promote["env"][variable] and "inputs" in promote["env"][variable]


def test_repository_dispatch_can_only_set():
    env = workflow("promote.yml")["env"]
    assert env["PROMOTE_ACTION"] == "${{ github.event.inputs.action || 'set' }}"
    assert env["PROMOTE_FROM"] == "${{ github.event.inputs.from }}"


def test_the_request_is_checked_by_a_job_that_can_write_nothing():
    job = workflow("promote.yml")["jobs"]["request"]
    assert job["permissions"] == {"contents": "read"}
    assert "environment" not in job
    assert job["steps"][0]["with"] == {"persist-credentials": False}
    assert job["outputs"] == {"environment": "${{ steps.check.outputs.environment }}"}


def test_the_promote_job_runs_in_the_github_environment_of_the_checked_target():
    job = workflow("promote.yml")["jobs"]["promote"]
    assert job["needs"] == "request"
    assert job["environment"] == "${{ needs.request.outputs.environment }}"
    assert job["permissions"] == {"contents": "write"}


def test_the_promote_job_runs_exactly_the_request_that_was_checked():
    check, promote = check_script(), promote_script()
    request = check.split("python scripts/promote.py check")[0]
    assert request.count("args=(") == 2
    assert promote.startswith(request)
    assert 'python scripts/promote.py "${args[@]}" --push' in promote


def step_script(name: str) -> str:
    return checks.find_step(workflow("promote.yml"), lambda s: s.get("name") == name)["run"]


def check_script() -> str:
    return step_script("Check the request")


def promote_script() -> str:
    return step_script("Promote")


@pytest.fixture
def ci_remote(tmp_path) -> Remote:
    """A fixture remote that, like the real repository, carries scripts/promote.py, the library
    it imports (scripts/platform_ops links to it) and the repository's promotion.yaml."""
    extra: dict[str, str | Symlink] = {"scripts/promote.py": (REPO_ROOT / "scripts" / "promote.py").read_text(),
                                       "scripts/platform_ops": Symlink("../platform_ops")}
    for path in sorted((REPO_ROOT / "platform_ops").rglob("*.py")):
        extra[str(path.relative_to(REPO_ROOT))] = path.read_text()
    return Remote.create(tmp_path, extra_files=extra, rules=PROJECT_RULES)


REQUEST = {"PROMOTE_ACTION": "set", "PROMOTE_ENVIRONMENT": "dev", "PROMOTE_SERVICE": "api-node",
           "PROMOTE_TAG": "1234567", "PROMOTE_DIGEST": "", "PROMOTE_SOURCE_COMMIT": "", "PROMOTE_FROM": ""}


def run_step(script_text: str, remote: Remote, tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess:
    """A step's script as the runner runs it: bash -eo pipefail, inputs in env only."""
    checkout = remote.clone("checkout")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    if not python.exists():
        python.symlink_to(sys.executable)
    script = tmp_path / "step.sh"
    script.write_text(script_text)
    env = {**remote.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_ACTOR": "octo-dev", "GITHUB_ACTOR_ID": "4242", "PROMOTE_BRANCH": "main",
           "GITHUB_SHA": checkout.head(), "GITHUB_OUTPUT": str(tmp_path / "output"), **REQUEST, **inputs}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=checkout.path, env=env, capture_output=True, text=True)


def run_promote_step(remote: Remote, tmp_path: Path, **inputs: str) -> subprocess.CompletedProcess:
    return run_step(promote_script(), remote, tmp_path, **inputs)


def test_promote_step_pushes_the_promotion_as_the_actor(ci_remote, tmp_path):
    digest = "sha256:" + "ab" * 32
    result = run_promote_step(ci_remote, tmp_path, PROMOTE_SERVICE="core-go", PROMOTE_TAG="abcdef0",
                              PROMOTE_DIGEST=digest, PROMOTE_SOURCE_COMMIT="6063e25" + "0" * 33)

    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("pushed to origin main (attempt 1 of 10)\n")
    log = ci_remote.git("log", "-1", "--format=%an <%ae>%n%s%n%(trailers:key=Source-Commit)", "main")
    assert log.strip().splitlines() == [
        "octo-dev <4242+octo-dev@users.noreply.github.com>",
        f"chore(promote): dev core-go 6063e25 -> abcdef0@{digest}",
        f"Source-Commit: 6063e25{'0' * 33}",
    ]


def test_promote_step_copies_along_the_rules(ci_remote, tmp_path):
    result = run_promote_step(ci_remote, tmp_path, PROMOTE_ACTION="copy", PROMOTE_FROM="staging",
                              PROMOTE_ENVIRONMENT="prod", PROMOTE_SERVICE="", PROMOTE_TAG="")

    assert result.returncode == 0, result.stderr
    assert ci_remote.git("log", "-1", "--format=%s", "main").strip() == (
        "chore(promote): copy staging -> prod (api-node, core-go, worker-python)")


@pytest.mark.parametrize("inputs, message", [
    ({"PROMOTE_TAG": "$(touch pwned)"}, "invalid tag '$(touch pwned)'"),
    ({"PROMOTE_TAG": "1234567\"; touch pwned; echo \""}, "invalid tag '1234567\"; touch pwned; echo \"'"),
    ({"PROMOTE_SERVICE": "api-node; touch pwned"}, "unknown service 'api-node; touch pwned'"),
    ({"PROMOTE_ENVIRONMENT": "`touch pwned`"}, "unknown environment '`touch pwned`'"),
    ({"PROMOTE_DIGEST": "sha256:$(touch pwned)"}, "invalid digest 'sha256:$(touch pwned)'"),
])
def test_crafted_inputs_stay_data(ci_remote, tmp_path, inputs, message):
    before = ci_remote.git("rev-parse", "main")

    result = run_promote_step(ci_remote, tmp_path, **inputs)

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert not list(tmp_path.rglob("pwned"))
    assert ci_remote.git("rev-parse", "main") == before


@pytest.mark.parametrize("inputs, out", [
    ({}, "ok: set dev api-node 1234567\n"),
    ({"PROMOTE_ACTION": "copy", "PROMOTE_FROM": "staging", "PROMOTE_ENVIRONMENT": "prod", "PROMOTE_TAG": ""},
     "ok: copy staging -> prod (api-node)\n"),
])
def test_check_step_outputs_the_environment_of_an_allowed_request(ci_remote, tmp_path, inputs, out):
    result = run_step(check_script(), ci_remote, tmp_path, **inputs)

    assert (result.returncode, result.stdout, result.stderr) == (0, out, "")
    environment = inputs.get("PROMOTE_ENVIRONMENT", "dev")
    assert (tmp_path / "output").read_text() == f"environment={environment}\n"


@pytest.mark.parametrize("inputs, message", [
    # What the applications' CI could send by repository_dispatch: a set straight into prod.
    ({"PROMOTE_ENVIRONMENT": "prod"}, "error: prod is fed by staging, not by CI (promotion.yaml): set is refused; "
                                      "promote what staging runs with `scripts/promote.py copy --from staging "
                                      "--to prod --service api-node`"),
    ({"PROMOTE_ACTION": "copy", "PROMOTE_FROM": "dev", "PROMOTE_ENVIRONMENT": "prod", "PROMOTE_TAG": ""},
     "error: prod is fed by staging, not by dev (promotion.yaml): copy is refused; "
     "use `scripts/promote.py copy --from staging --to prod`"),
    ({"PROMOTE_ACTION": "copy", "PROMOTE_FROM": "staging", "PROMOTE_ENVIRONMENT": "prod"},
     "error: tag, digest and source_commit are only for action set"),
    ({"PROMOTE_FROM": "staging"}, "error: from is only for action copy"),
    ({"PROMOTE_ACTION": "rollback"}, "error: action must be set or copy"),
])
def test_check_step_refuses_a_request_and_outputs_nothing(ci_remote, tmp_path, inputs, message):
    result = run_step(check_script(), ci_remote, tmp_path, **inputs)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")
    assert not (tmp_path / "output").exists()


def test_e2e_pins_kind_and_pulumi_and_always_destroys():
    e2e = workflow("e2e.yml")
    assert "workflow_dispatch" in e2e["on"] and e2e["on"]["schedule"]
    assert e2e["env"]["KIND_VERSION"] == "v0.33.0"
    assert e2e["env"]["PULUMI_VERSION"] == "3.272.0"
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    assert re.search(rf"^pulumi=={re.escape(e2e['env']['PULUMI_VERSION'])} ", requirements, re.M)  # CLI matches the SDK
    assert e2e["env"]["STACK"] == "dev"
    job = e2e["jobs"]["e2e"]
    runs = [str(step.get("run", "")) for step in job["steps"]]
    assert any('go install "sigs.k8s.io/kind@${KIND_VERSION}"' in run for run in runs)
    assert any(run.strip() == 'make up STACK="$STACK"' for run in runs)
    assert any("Synced Healthy" in run for run in runs)
    assert any("/api/v1/targets" in run for run in runs)
    destroy = checks.find_step(e2e, lambda s: "make destroy" in str(s.get("run", "")))
    assert destroy["if"] == "always()"
