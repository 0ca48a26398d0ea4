"""`make render`: the offline render's command line, on a copy of the project."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_FILES = ["__main__.py", "config.py", "Pulumi.yaml", "Pulumi.dev.yaml", "components", "charts", "scripts"]


@pytest.fixture(autouse=True)
def tools_of_this_checkout(tool, monkeypatch):
    monkeypatch.setenv("PLATFORM_OPS_TOOLS", str(Path(tool("helm")).parent))


@pytest.fixture
def project(repo_root, tmp_path):
    copy = tmp_path / "project"
    copy.mkdir()
    for name in PROJECT_FILES:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.tgz"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def run_render(project, *args):
    return subprocess.run([sys.executable, "scripts/render.py", *args], cwd=project, env=os.environ,
                          capture_output=True, text=True, timeout=300)


def test_render_writes_yaml_and_prints_a_summary(project):
    result = run_render(project, "dev")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["COMPONENT", "KIND", "NAMESPACE/NAME"]
    assert "gitops      Application        argocd/api-node" in lines
    assert lines[-1] == "17 objects of stack dev written to build/render/dev"
    written = sorted(p.name for p in (project / "build/render/dev").iterdir())
    assert written == ["apps.yaml", "argocd.yaml", "charts", "gitops.yaml", "ingress.yaml", "installs.yaml",
                       "outputs.yaml", "prometheus.yaml"]
    charts = sorted(p.name for p in (project / "build/render/dev/charts").iterdir())
    assert charts == ["api-node.yaml", "core-go.yaml", "worker-python.yaml"]


def test_render_is_byte_identical_across_runs(project):
    first, second = project / "first", project / "second"
    assert run_render(project, "dev", "--out", str(first)).returncode == 0
    assert run_render(project, "dev", "--out", str(second)).returncode == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*.yaml"))
    assert len(files) == 10
    for path in files:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path


def test_bad_config_fails_names_the_key_and_writes_nothing(project):
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("version: v3.5.7", "version: stable"))
    result = run_render(project, "dev")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Pulumi.dev.yaml: platform-ops:argocd.version must be a pinned version such as v3.5.7, got "stable"')
    assert not (project / "build").exists()


def test_a_failed_render_keeps_the_previous_one(project):
    assert run_render(project, "dev").returncode == 0
    before = (project / "build/render/dev/gitops.yaml").read_bytes()
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("httpPort: 80", "httpPort: 0"))
    assert run_render(project, "dev").returncode == 1
    assert (project / "build/render/dev/gitops.yaml").read_bytes() == before


def test_unknown_stack_is_refused(project):
    result = run_render(project, "qa")
    assert result.returncode == 2
    assert result.stderr.strip() == "render: Pulumi.qa.yaml: no such stack file"


def test_a_chart_that_does_not_render_fails_the_render_and_writes_nothing(project):
    template = project / "charts/core-go/templates/deployment.yaml"
    template.write_text(template.read_text() + "\n{{ .Values.missing.key }}\n")
    result = run_render(project, "dev")
    assert result.returncode == 1
    assert result.stderr.startswith("render: ")
    assert "core-go" in result.stderr
    assert not (project / "build/render/dev").exists()
