"""`make preview-diff` on the real engine and a throwaway control plane, for the staging stack.

The base is brought up once for the module (each engine run costs 10-30 s); each test previews one
head against it: the base itself, a retention change, a fourth app chart, a chart's values, a new
secret ciphertext, a broken stack file. A broken base runs through scripts/preview_diff.py on a
scratch repository, as `make preview-diff` does, before the shared base starts.

The base declares both secrets with ciphertexts nobody can decrypt: what the preview does with any
stack file's secrets, since a pull request has no secrets provider.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platform_ops.paths import REPO_ROOT, TESTBED_ENV, TOOLS_ENV, tools_dir
from platform_ops.preview.report import format_report
from platform_ops.preview.secrets import PLACEHOLDERS
from testbed.preview import Base, PreviewEngine

pytestmark = pytest.mark.xdist_group("preview-diff")

STACK = "staging"
STACK_FILE = f"Pulumi.{STACK}.yaml"
SECRETS = ("  platform-ops:registryToken:\n    secure: v1:c2FsdA==:base-token-ciphertext\n"
           "  platform-ops:argocdAdminPassword:\n    secure: v1:c2FsdA==:base-password-ciphertext\n")
RETENTION_LINE = next(number for number, line in enumerate(
    (REPO_ROOT / "Pulumi.staging.yaml").read_text().splitlines(), start=1) if line.strip().startswith("retention:"))
RETENTION_ERROR = (f'Pulumi.staging.yaml:{RETENTION_LINE}: platform-ops:prometheus.retention must be a duration '
                   'such as 30s, 15m or 2d, got "nonsense"')


def copy_checkout(target: Path) -> Path:
    """The repository's tracked files as they are in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, destination = REPO_ROOT / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)
    return target


def edit(tree: Path, name: str, old: str, new: str) -> None:
    path = tree / name
    text = path.read_text()
    assert text.count(old) == 1, f"{name}: {old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new))


def with_secrets(tree: Path) -> Path:
    with (tree / STACK_FILE).open("a") as stack_file:
        stack_file.write(SECRETS)
    return tree


def add_chart(tree: Path, source: str, name: str) -> None:
    """A new app chart made from `source`, and named in the apps' alerts, as the program requires."""
    shutil.copytree(tree / "charts" / source, tree / "charts" / name)
    for path in (tree / "charts" / name).rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace(source, name))
    alerts = "prometheus/rules/platform-apps-alerts.yaml"
    edit(tree, alerts, 'up{job=~"api-node|core-go|worker-python"}', f'up{{job=~"api-node|{name}|core-go|worker-python"}}')
    edit(tree, alerts, 'or absent(up{job="core-go"})', f'or absent(up{{job="{name}"}}) or absent(up{{job="core-go"}})')


def leaks(paths: list[Path], texts: list[str]) -> list[str]:
    """Where a placeholder shows, plain or base64 (a registry credential carries it base64)."""
    needles = [p.encode() for p in PLACEHOLDERS]
    needles += [base64.b64encode(p.encode()) for p in PLACEHOLDERS]
    found = [f"text {index}" for index, text in enumerate(texts) if any(n in text.encode() for n in needles)]
    for root in paths:
        for path in (p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            if any(n in path.read_bytes() for n in needles) and not is_program_source(path):
                found.append(str(path))
    return found


def is_program_source(path: Path) -> bool:
    """A file of the program the engine runs, as the repository has it: the preview's own code
    names the placeholders it sets."""
    parts = path.parts
    if "project" not in parts:
        return False
    source = REPO_ROOT.joinpath(*parts[parts.index("project") + 1:])
    return source.is_file() and source.read_bytes() == path.read_bytes()


def processes_under(folder: Path) -> list[str]:
    """Live processes whose command line names `folder`."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(folder) in command:
                alive.append(f"{entry.name}: {command[:200]}")
    return alive


def test_a_base_that_cannot_be_built_is_named_and_the_head_previewed_as_all_create(testbed, tmp_path):
    repo = copy_checkout(tmp_path / "repo")
    edit(repo, STACK_FILE, "retention: 7d", "retention: nonsense")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "broken base"]):
        subprocess.run(git + command, cwd=repo, check=True, capture_output=True)
    edit(repo, STACK_FILE, "retention: nonsense", "retention: 7d")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, TOOLS_ENV: str(tools_dir()), TESTBED_ENV: str(testbed), "TMPDIR": str(temporary)}
    result = subprocess.run([sys.executable, "scripts/preview_diff.py", STACK], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=900)
    assert (result.returncode, result.stderr) == (0, "")
    report = (repo / "build" / "preview" / f"{STACK}.md").read_text()
    assert result.stdout == report
    assert ("The base could not be built, so the head is previewed on an empty cluster (every resource is a "
            f"create). The base's error:\n\n```\n{RETENTION_ERROR}\n```\n") in report
    assert f"The base could not be rendered: {RETENTION_ERROR}\n" in report
    counts = report.split("## Pulumi changes: what `pulumi up` would do\n", 1)[1].split("```\n\n", 1)[1]
    assert counts.splitlines()[0].endswith(" to create.")
    assert "+++ head/charts/api-node.yaml" in report
    # The control plane is stopped and the run's folder removed.
    assert processes_under(temporary) == []
    assert list(temporary.iterdir()) == []


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = with_secrets(copy_checkout(tmp_path_factory.mktemp("base")))

    def head(name: str) -> Path:
        """A copy of the base, for a test to change."""
        return shutil.copytree(base, tmp_path_factory.mktemp("heads") / name, symlinks=True)

    return base, head


@pytest.fixture(scope="module")
def base(testbed, trees, tmp_path_factory):
    tree, _ = trees
    workdir = tmp_path_factory.mktemp("preview")
    with PreviewEngine(STACK, testbed, workdir / "engine") as engine:
        built = Base(engine, tree, "base", workdir)
        assert (built.error, built.render.error) == (None, None)
        yield built
    assert processes_under(workdir) == []


def test_a_head_equal_to_the_base_says_no_changes_and_exits_0(base, trees):
    outcome = base.preview(trees[1]("same"), "head")
    assert (outcome.unchanged, outcome.exit_code, outcome.secrets_changed) == (True, 0, ())
    assert format_report(outcome).splitlines()[2] == "**no changes**"


def test_a_retention_change_updates_the_prometheus_deployment_alone(base, trees):
    head = trees[1]("retention")
    edit(head, STACK_FILE, "retention: 7d", "retention: 9d")
    outcome = base.preview(head, "head")
    assert {op for op, count in outcome.changes.counts.items() if op != "same"} == {"update"}
    assert outcome.changes.counts["update"] == 1
    [resource] = outcome.changes.resources
    assert (resource.op, resource.type, resource.object) == ("update", "kubernetes:apps/v1:Deployment",
                                                             "observability/prometheus")
    assert [(p.path, p.old, p.new) for p in resource.properties] == [
        ("spec.template.spec.containers[0].args[2]", '"--storage.tsdb.retention.time=7d"',
         '"--storage.tsdb.retention.time=9d"')]
    assert (outcome.chart_diff, outcome.secrets_changed) == ("", ())


def test_a_fourth_app_chart_creates_its_application_and_shows_its_render(base, trees):
    head = trees[1]("fourth-chart")
    add_chart(head, "core-go", "billing-go")
    outcome = base.preview(head, "head")
    created = [(r.type, r.object) for r in outcome.changes.resources if r.op == "create"]
    assert ("kubernetes:argoproj.io/v1alpha1:Application", "argocd/billing-go") in created
    assert "--- /dev/null\n+++ head/charts/billing-go.yaml\n" in outcome.chart_diff
    assert "+++ head/charts/core-go.yaml" not in outcome.chart_diff


def test_a_change_of_chart_values_alone_changes_no_resource_and_shows_in_the_render(base, trees):
    head = trees[1]("values")
    edit(head, "charts/api-node/values-staging.yaml", "replicaCount: 2", "replicaCount: 3")
    outcome = base.preview(head, "head")
    assert outcome.changes.changed is False
    assert outcome.chart_diff.startswith("--- base/charts/api-node.yaml\n+++ head/charts/api-node.yaml\n")
    assert "-  replicas: 2\n+  replicas: 3\n" in outcome.chart_diff


def test_a_changed_secret_shows_as_secret_and_never_its_placeholder(base, trees, capsys):
    head = trees[1]("secret")
    edit(head, STACK_FILE, "base-token-ciphertext", "head-token-ciphertext")
    outcome = base.preview(head, "head")
    report = format_report(outcome)
    assert outcome.secrets_changed == ("platform-ops:registryToken",)
    [resource] = [r for r in outcome.changes.resources if r.op != "same"]
    assert (resource.op, resource.object) == ("replace", "apps/ghcr-cred")
    assert [(p.path, p.old, p.new) for p in resource.properties] == [
        ('data[".dockerconfigjson"]', "[secret]", "[secret]")]
    # Every file of the engine's runs (stack files, state, logs) and every output: no placeholder.
    # The control plane's etcd is left out: the cluster holds the credential, as a real one would.
    engine_dirs = [path for path in base.engine.workdir.iterdir() if path.name != "control-plane"]
    engine_output = [result.output for result in base.engine.project.history]
    assert leaks(engine_dirs, [report, *capsys.readouterr(), *engine_output]) == []


def test_a_broken_head_shows_the_programs_error_and_exits_1(base, trees):
    head = trees[1]("broken")
    edit(head, STACK_FILE, "retention: 7d", "retention: nonsense")
    outcome = base.preview(head, "head")
    assert (outcome.head_error, outcome.exit_code) == (RETENTION_ERROR, 1)
    assert f"**the head fails**: {RETENTION_ERROR}\n" in format_report(outcome)
