"""The charts render the way Argo CD renders them: from a fresh checkout, dependencies built from the
committed Chart.lock on demand, with the Applications' release names, namespace and value files."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from platform_ops.contract import STACKS
from platform_ops.render.charts import (
    MISSING_DEPENDENCY_MARKERS, ChartRenderError, ChartSource, Renderer, chart_applications,
    helm_env, render_all, render_application, render_stack_charts,
)

APPS = ("api-node", "core-go", "worker-python")


def test_every_environment_deploys_each_app_chart_through_an_argo_cd_application(rendered, each_stack):
    apps = [ChartSource.from_application(a) for a in chart_applications(rendered(each_stack).manifests)]
    assert sorted(a.path for a in apps) == [f"charts/{app}" for app in APPS]
    for app in apps:
        assert app.value_files == ("values.yaml", f"values-{each_stack}.yaml")


def test_each_app_chart_has_values_for_every_environment_and_uses_the_library(repo_root, chart_dirs):
    stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in repo_root.glob("Pulumi.*.yaml")
                    if p.name != "Pulumi.yaml")
    assert stacks == sorted(STACKS)
    kinds = {}
    for chart in chart_dirs:
        meta = yaml.safe_load((chart / "Chart.yaml").read_text())
        kinds[chart.name] = meta["type"]
        if meta["type"] == "application":
            assert [f"values-{s}.yaml" for s in stacks if (chart / f"values-{s}.yaml").is_file()] == \
                [f"values-{s}.yaml" for s in stacks]
            assert meta["dependencies"] == [
                {"name": "platform-lib", "version": "0.1.0", "repository": "file://../platform-lib"}]
    assert kinds == {"api-node": "application", "core-go": "application", "worker-python": "application",
                     "platform-lib": "library"}


def test_fresh_checkout_needs_helm_dependency_build_which_argo_cd_triggers(helm, repo_root, rendered, tmp_path):
    app = chart_applications(rendered("dev").manifests)[0]
    source = ChartSource.from_application(app)
    with Renderer(repo_root, helm, tmp_path) as renderer:
        first = subprocess.run([helm, *renderer.template_args(source)], cwd=renderer.chart_dir(source),
                               env=helm_env(renderer.home),
                               capture_output=True, text=True)
        assert first.returncode != 0
        assert any(marker in first.stderr for marker in MISSING_DEPENDENCY_MARKERS)
        manifests = renderer.render(source)
        assert renderer.dependency_builds == [source.path]
        assert (renderer.chart_dir(source) / "charts" / "platform-lib-0.1.0.tgz").is_file()
    assert {m["kind"] for m in manifests} >= {"Deployment", "Service"}


def test_chart_lock_out_of_step_with_chart_yaml_fails_the_render(helm, repo_root, rendered, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(repo_root / "charts", repo / "charts", ignore=shutil.ignore_patterns("*.tgz"))
    chart_yaml = repo / "charts" / "core-go" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("    version: 0.1.0", "    version: 0.2.0"))
    app = next(a for a in chart_applications(rendered("dev").manifests) if a["spec"]["source"]["path"] == "charts/core-go")
    with pytest.raises(ChartRenderError) as err:
        render_application(app, helm=helm, repo_root=repo)
    assert "the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml)" in str(err.value)


def test_no_dependency_archive_is_committed(repo_root):
    tracked = subprocess.run(["git", "ls-files", "charts"], cwd=repo_root, capture_output=True, text=True, check=True)
    assert [f for f in tracked.stdout.split() if f.endswith(".tgz")] == []
    ignored = subprocess.run(["git", "check-ignore", "charts/api-node/charts/platform-lib-0.1.0.tgz"],
                             cwd=repo_root, capture_output=True, text=True)
    assert ignored.returncode == 0, "dependency archives must be git-ignored"


def test_rendering_twice_is_byte_identical(renderer, sources, chart_text, each_render):
    stack, app = each_render
    assert renderer.render_text(sources(stack)[app]) == chart_text(stack, app)


def test_helm_lint_strict_is_clean(renderer, sources, each_render):
    stack, app = each_render
    output = renderer.lint(sources(stack)[app])
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[WARNING]" not in output and "[ERROR]" not in output


def test_each_template_file_renders_at_most_one_object(chart_text, each_render):
    stack, app = each_render
    sources_seen = [line for line in chart_text(stack, app).splitlines() if line.startswith("# Source: ")]
    assert len(sources_seen) == len(set(sources_seen))


def test_render_stack_charts_writes_one_file_per_app(helm, repo_root, rendered, tmp_path):
    with Renderer(repo_root, helm, tmp_path / "work") as renderer:
        result = render_stack_charts("dev", rendered("dev").manifests, renderer=renderer, out_dir=tmp_path / "out")
    assert sorted(result) == list(APPS)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{app}.yaml" for app in APPS]


def test_render_all_renders_the_nine_chart_environment_pairs(helm, repo_root, rendered):
    apps = {stack: chart_applications(rendered(stack).manifests) for stack in STACKS}
    result = render_all(apps, helm=helm, repo_root=repo_root)
    assert sorted(result) == sorted((stack, app) for stack in STACKS for app in APPS)
