"""The preview and drift workflows: a pull request's jobs read no secret but GITHUB_TOKEN (checked
on every workflow), the preview runs `make preview-diff` for every stack and comments once, and
drift runs the real preview per stack in its own environment, from main only."""
from __future__ import annotations

import subprocess

import pytest

from platform_ops.config import stack_file_config
from platform_ops.layout import stacks
from platform_ops.paths import REPO_ROOT
from tests.preview.workflow_secrets import pull_request_secrets
from tests.promote import workflow_checks as checks

WORKFLOWS = REPO_ROOT / ".github" / "workflows"

CRAFTED = """\
on: [pull_request, push]
env:
  TOKEN: ${{ secrets.GITHUB_TOKEN }}
jobs:
  preview:
    runs-on: ubuntu-24.04
    env:
      PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}
    steps:
      - run: make preview
        env:
          PASSPHRASE: ${{ secrets['PULUMI_CONFIG_PASSPHRASE'] }}
          ALL: ${{ toJSON(secrets) }}
      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0
        with:
          github-token: ${{ secrets.GITHUB_TOKEN }}
  reuse:
    uses: ./.github/workflows/other.yml
    secrets: inherit
"""


def workflow(name: str) -> dict:
    return checks.load((WORKFLOWS / name).read_text())


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda path: path.name)
def test_no_pull_request_job_reads_a_secret_other_than_github_token(path):
    assert pull_request_secrets(path.name, path.read_text()) == []


def test_the_secrets_check_catches_every_way_a_pull_request_job_reads_a_secret():
    assert pull_request_secrets("crafted.yml", CRAFTED) == [
        "crafted.yml: job preview: references secrets.PULUMI_ACCESS_TOKEN",
        "crafted.yml: job preview: references secrets.PULUMI_CONFIG_PASSPHRASE",
        "crafted.yml: job preview: references the whole secrets context",
        "crafted.yml: job reuse: passes secrets to a reusable workflow",
    ]


def test_the_secrets_check_leaves_workflows_that_no_pull_request_runs():
    assert pull_request_secrets("push.yml", CRAFTED.replace("[pull_request, push]", "[push]")) == []


def test_actionlint_passes_on_preview_and_drift(tool):
    result = subprocess.run([tool("actionlint"), "-no-color", str(WORKFLOWS / "preview.yml"),
                             str(WORKFLOWS / "drift.yml")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("name", ["preview.yml", "drift.yml"])
def test_preview_and_drift_pin_every_action_and_expand_nothing_in_scripts(name):
    assert checks.unpinned_actions((WORKFLOWS / name).read_text()) == []
    assert checks.expressions_in_scripts(workflow(name)) == []


def test_preview_runs_make_preview_diff_for_every_stack_against_the_pull_requests_base():
    preview = workflow("preview.yml")
    assert set(preview["on"]) == {"pull_request"}
    [job] = preview["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    step = checks.find_step(preview, lambda s: "make --no-print-directory preview-diff" in str(s.get("run", "")))
    assert step["env"] == {"BASE_SHA": "${{ github.event.pull_request.base.sha }}"}
    assert 'for stack in $(python3 scripts/promote.py list envs); do' in step["run"]
    assert 'preview-diff STACK="$stack" BASE="$BASE_SHA"' in step["run"]
    assert 'cat preview.md >> "$GITHUB_STEP_SUMMARY"' in step["run"]


def test_preview_keeps_one_comment_per_pull_request_and_none_for_a_fork():
    comment = checks.find_step(workflow("preview.yml"),
                               lambda s: str(s.get("uses", "")).startswith("actions/github-script@"))
    assert comment["if"] == "${{ !cancelled() && github.event.pull_request.head.repo.full_name == github.repository }}"
    script = comment["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "platform-ops:preview-diff" in script


def test_preview_caches_the_testbed_by_its_pins():
    preview = workflow("preview.yml")
    cache = checks.find_step(preview, lambda s: str(s.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"] == {"path": ".tools/bin\n.tools/testbed\n",
                             "key": "testbed-${{ runner.os }}-${{ steps.pins.outputs.key }}"}
    pins = checks.find_step(preview, lambda s: s.get("id") == "pins")
    assert "grep -E '^[A-Z_]+_VERSION :=' Makefile | cat - scripts/build-tool.sh | sha256sum" in pins["run"]


def test_drift_runs_from_main_on_a_schedule_on_dispatch_and_on_push():
    drift = workflow("drift.yml")
    assert drift["on"]["schedule"] and "workflow_dispatch" in drift["on"]
    assert drift["on"]["push"] == {"branches": ["main"]}
    assert drift["jobs"]["drift"]["if"] == "github.ref == 'refs/heads/main'"


def test_drift_has_one_job_per_existing_cluster_stack_in_the_stacks_environment():
    job = workflow("drift.yml")["jobs"]["drift"]
    existing = [stack for stack in stacks(REPO_ROOT) if stack_file_config(stack)["cluster"].get("mode") == "existing"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == sorted(existing)
    assert job["environment"] == "${{ matrix.stack }}"


def test_drift_fails_on_any_change_with_the_diff_in_the_job_summary():
    step = checks.find_step(workflow("drift.yml"), lambda s: "pulumi preview" in str(s.get("run", "")))
    assert 'pulumi preview --stack "$STACK" --refresh --expect-no-changes --diff --non-interactive' in step["run"]
    assert 'exit "$status"' in step["run"] and '>> "$GITHUB_STEP_SUMMARY"' in step["run"]
    assert set(step["env"]) == {"PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}
