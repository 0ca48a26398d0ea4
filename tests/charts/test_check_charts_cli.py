"""scripts/check_charts.py: what promotion runs before it promotes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from platform_ops.chart_checks.stack import check_stack


def run_cli(repo_root, helm, *args):
    env = dict(os.environ, PLATFORM_OPS_TOOLS=os.path.dirname(helm))
    return subprocess.run([sys.executable, str(repo_root / "scripts" / "check_charts.py"), *args],
                          cwd=repo_root, env=env, capture_output=True, text=True)


def test_every_chart_of_every_environment_passes_all_checks(rendered, renderer, each_stack):
    assert check_stack(each_stack, rendered(each_stack).manifests, renderer) == []


def test_cli_passes_for_dev(repo_root, helm):
    result = run_cli(repo_root, helm, "dev")
    assert (result.returncode, result.stdout) == (0, "check_charts: dev: all charts render and pass the checks\n")


def test_cli_fails_with_helm_message_when_a_promoted_tag_is_not_a_sha(repo_root, helm, tmp_path):
    shutil.copytree(repo_root / "charts", tmp_path / "charts", ignore=shutil.ignore_patterns("*.tgz"))
    values = tmp_path / "charts" / "worker-python" / "values-staging.yaml"
    values.write_text(values.read_text().replace('tag: "1df3b1f"', 'tag: "latest"'))
    result = run_cli(repo_root, helm, "staging", "--charts-from", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines()[:2] == [
        "check_charts: staging: 1 problem(s):",
        "  - helm template charts/worker-python (release worker-python) failed:",
    ]
    assert "    - at '/image/tag': 'latest' does not match pattern '^([0-9a-f]{7,40}|sha256:[0-9a-f]{64})$'" \
        in result.stderr.splitlines()


def test_cli_refuses_an_unknown_environment(repo_root, helm):
    result = run_cli(repo_root, helm, "qa")
    assert (result.returncode, result.stderr) == (2, "check_charts: unknown environment 'qa' (no Pulumi.qa.yaml)\n")
