"""`make render` and `make diff-stacks`: the offline render's command line, on a copy of the project."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from platform_ops.paths import PROGRAM_FILES

PROJECT_FILES = [*PROGRAM_FILES, "Pulumi.dev.yaml", "scripts"]


@pytest.fixture(autouse=True)
def tools_of_this_checkout(tool, monkeypatch):
    monkeypatch.setenv("PLATFORM_OPS_TOOLS", str(Path(tool("helm")).parent))


def copy_project(repo_root: Path, copy: Path) -> Path:
    copy.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, copy / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.tgz"))
        else:
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture
def project(repo_root, tmp_path):
    return copy_project(repo_root, tmp_path / "project")


# The tests that only read dev's render share it: one worker makes it once (pytest-xdist group).
ONE_RENDER = pytest.mark.xdist_group("render-cli-dev")


@pytest.fixture(scope="module")
def dev_render(repo_root, tmp_path_factory, tool):
    """One render of dev in its own copy of the project, for the tests that only read it."""
    project = copy_project(repo_root, tmp_path_factory.mktemp("dev-render") / "project")
    env = {**os.environ, "PLATFORM_OPS_TOOLS": str(Path(tool("helm")).parent)}
    return project, run_render(project, "dev", env=env)


def run_render(project, *args, env=None):
    return subprocess.run([sys.executable, "scripts/render.py", *args], cwd=project, env=env or os.environ,
                          capture_output=True, text=True, timeout=300)


def table(lines: list[str], header_start: str) -> list[list[str]]:
    """Cells of the markdown table whose header line starts with `header_start`, header included."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return [rows[0]] + rows[2:]


def padded(rows: list[list[str]]) -> list[str]:
    """A markdown table with every column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows[1:]]


def expected_service_row(project: Path, service: str, stack: str) -> list[str]:
    """A services-table row as the chart's values for `stack` say it, read as Helm merges them."""
    from platform_ops.config import merged_values

    chart_dir = project / "charts" / service
    values = merged_values(chart_dir, ["values.yaml", f"values-{stack}.yaml"])
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    requests, limits = values["resources"].get("requests", {}), values["resources"].get("limits", {})
    ingress = values.get("ingress") or {}
    host, tls = "-", "-"
    if ingress.get("enabled"):
        host = ingress["host"]
        tls = ingress["tlsSecretName"]
        if ingress.get("clusterIssuer"):
            tls += f" (issuer {ingress['clusterIssuer']})"
    return [service, f"{chart['name']}-{chart['version']}", values["image"]["repository"], str(values["image"]["tag"]),
            str(values["replicaCount"]),
            f"{requests.get('cpu', '-')} / {limits.get('cpu', '-')}",
            f"{requests.get('memory', '-')} / {limits.get('memory', '-')}",
            host, tls]


SERVICES_HEADER = ["service", "chart", "image", "tag", "replicas", "cpu request/limit", "memory request/limit",
                   "hosts", "TLS"]


def add_stack_like_dev(project: Path, name: str) -> None:
    """A stack `name` whose stack file and chart values are dev's."""
    shutil.copy2(project / "Pulumi.dev.yaml", project / f"Pulumi.{name}.yaml")
    for chart in (project / "charts").iterdir():
        if (chart / "values-dev.yaml").is_file():
            shutil.copy2(chart / "values-dev.yaml", chart / f"values-{name}.yaml")


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: {old!r}"
    path.write_text(text.replace(old, new))


# --- make render ------------------------------------------------------------------------------------

@ONE_RENDER
def test_render_writes_the_objects_the_charts_and_the_summary(dev_render):
    project, result = dev_render
    assert result.returncode == 0, result.stderr
    objects = table((project / "build/render/dev/objects.md").read_text().splitlines(), "| component ")[1:]
    assert result.stdout.splitlines()[-1] == (
        f"{len(objects)} objects of stack dev written to build/render/dev, listed in build/render/dev/objects.md")
    written = {p.name for p in (project / "build/render/dev").iterdir()}
    fixed = {"charts", "installs.yaml", "objects.md", "outputs.yaml", "summary.md"}
    assert fixed | {"apps.yaml", "gitops.yaml", "ingress.yaml", "prometheus.yaml"} <= written
    assert written - fixed <= {f"{component}.yaml" for component, _, _ in objects}
    charts = sorted(p.name for p in (project / "build/render/dev/charts").iterdir())
    assert charts == ["api-node.yaml", "core-go.yaml", "worker-python.yaml"]


@ONE_RENDER
def test_summary_of_dev_lists_each_service_as_its_chart_values_say(dev_render):
    project, result = dev_render
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    services = sorted(p.name for p in (project / "charts").iterdir() if (p / "values-dev.yaml").is_file())
    expected = padded([SERVICES_HEADER] + [expected_service_row(project, s, "dev") for s in services])
    assert lines[:2 + len(expected)] == ["## Stack dev: what should be running", ""] + expected


@ONE_RENDER
def test_summary_of_dev_lists_the_platform_parts_from_its_stack_file(dev_render):
    project, result = dev_render
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]
    cluster, prometheus = config["platform-ops:cluster"], config["platform-ops:prometheus"]
    node_image, _, digest = cluster["nodeImage"].partition("@sha256:")
    parts = dict(table(result.stdout.splitlines(), "| platform part "))
    assert parts.pop("platform part") == "setting"
    assert parts["cluster"] == (f"kind cluster {cluster['name']} (node {node_image}@sha256:{digest[:12]}, "
                                f"host ports {cluster['httpPort']}/{cluster['httpsPort']})")
    assert parts["ingress class"] == "nginx"
    argocd, cert_manager = config["platform-ops:argocd"], config["platform-ops:certManager"]
    assert parts["Argo CD"] == (f"{argocd['version']}, installed by this stack, namespace argocd, "
                                f"reconciles every {argocd['reconciliationTimeout']} "
                                f"+ up to {argocd['reconciliationJitter']}")
    assert parts["cert-manager"] == (f"{cert_manager['version']}, installed by this stack, "
                                     "chart oci://quay.io/jetstack/charts/cert-manager, "
                                     "namespace cert-manager")
    assert parts["certificate issuer"] == "platform-ca: self-signed CA made in the cluster"
    assert parts["image registry"] == "ghcr.io, anonymous pulls (no registryToken)"
    assert parts["Prometheus"] == (f"{prometheus['version']}, retention {prometheus['retention']}, "
                                   f"scrape every {prometheus['scrapeInterval']}")
    assert parts["Prometheus scrapes"] == "namespaces: apps; apps: api-node, core-go, worker-python"


@ONE_RENDER
def test_summary_puts_services_first_then_platform_parts_and_leaves_the_objects_to_objects_md(dev_render):
    project, result = dev_render
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    services_at = lines.index(next(line for line in lines if line.startswith("| service ")))
    platform_at = lines.index(next(line for line in lines if line.startswith("| platform part ")))
    assert services_at < platform_at
    assert "Namespace (patch)" not in result.stdout
    objects = (project / "build/render/dev/objects.md").read_text().splitlines()
    assert objects[0] == f"## Stack dev: objects the program registers ({len(table(objects, '| component ')) - 1})"
    assert [cells for cells in table(objects, "| component ") if cells[0] == "gitops"] == [
        ["gitops", "AppProject", "argocd/platform-ops"],
        ["gitops", "Application", "argocd/api-node"],
        ["gitops", "Application", "argocd/core-go"],
        ["gitops", "Application", "argocd/worker-python"],
    ]


@ONE_RENDER
def test_summary_md_holds_exactly_the_printed_tables(dev_render):
    project, result = dev_render
    assert result.returncode == 0, result.stderr
    summary = (project / "build/render/dev/summary.md").read_text()
    assert result.stdout == summary + "\n" + result.stdout.splitlines()[-1] + "\n"


def test_bad_config_fails_names_the_key_and_writes_nothing(project):
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("version: v3.5.7", "version: stable"))
    result = run_render(project, "dev")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Pulumi.dev.yaml:21: platform-ops:argocd.version must be a pinned version such as v3.5.7, got "stable"')
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


# --- make diff-stacks -----------------------------------------------------------------------------------

def test_diff_of_two_stacks_shows_exactly_the_one_service_field_that_differs(project):
    add_stack_like_dev(project, "qa")
    replace_in(project / "charts/core-go/values-qa.yaml", "replicaCount: 1", "replicaCount: 2")
    result = run_render(project, "--diff", "dev", "qa")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:10] == [
        "## Stack dev vs stack qa",
        "",
        f"1 of 3 services differ; 0 of {len(table(lines, '| platform part ')) - 1} platform parts differ.",
        "",
        "| service       | field      | dev       | qa        |",
        "|---------------|------------|-----------|-----------|",
        "| api-node      | all fields | identical | identical |",
        "| core-go       | replicas   | 1         | 2         |",
        "| worker-python | all fields | identical | identical |",
        "",
    ]
    parts = table(lines, "| platform part ")
    assert parts[0] == ["platform part", "dev", "qa"]
    assert [cells[1:] for cells in parts[1:]] == [["identical", "identical"]] * (len(parts) - 1)
    assert not (project / "build").exists()


def test_diff_of_two_stacks_shows_exactly_the_one_platform_part_that_differs(project):
    add_stack_like_dev(project, "qa")
    replace_in(project / "Pulumi.qa.yaml", "retention: 2d", "retention: 7d")
    result = run_render(project, "--diff", "dev", "qa")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [cells for cells in table(lines, "| service ")[1:] if cells[1:] != ["all fields", "identical", "identical"]] == []
    version = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["platform-ops:prometheus"]["version"]
    differing = [cells for cells in table(lines, "| platform part ")[1:] if cells[1:] != ["identical", "identical"]]
    assert differing == [["Prometheus", f"{version}, retention 2d, scrape every 30s",
                          f"{version}, retention 7d, scrape every 30s"]]


def test_diff_of_an_unknown_stack_is_refused_before_any_render(project):
    result = run_render(project, "--diff", "dev", "qa")
    assert result.returncode == 2
    assert result.stderr.strip() == "render: Pulumi.qa.yaml: no such stack file"
    assert result.stdout == ""


def test_render_wants_a_stack_or_two_stacks_to_diff(project):
    result = run_render(project)
    assert result.returncode == 2
    assert "give either a STACK to render or --diff STACK OTHER" in result.stderr
