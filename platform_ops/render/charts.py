"""Render the platform's Helm charts exactly the way Argo CD does.

Argo CD's repo server renders an Application's chart with

    helm template . --name-template <releaseName> --namespace <destination.namespace>
         --kube-version <cluster> --values <each valueFile> --api-versions ... --include-crds

run inside the chart directory of a fresh checkout. When that fails because a dependency is not
in charts/ (a checkout never has the .tgz: .gitignore excludes it), it runs `helm dependency build`
there and templates again. `helm dependency build` follows the committed Chart.lock, so a lock that
is out of step with Chart.yaml fails the render here as it would in Argo CD.

Release name, namespace and value files always come from the Application objects the Pulumi
program creates (render/program.py), never from a copy of them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from platform_ops.quantity import parse_quantity
from platform_ops.contract import KUBE_VERSION
from platform_ops.paths import CHARTS_FOLDER, REPO_ROOT, tools_dir
from platform_ops.render.program import render_stack

# The API groups the charts emit; Argo CD passes the cluster's list, which contains these.
API_VERSIONS = ("v1", "apps/v1", "policy/v1", "networking.k8s.io/v1")
# The two messages Argo CD's helm.IsMissingDependencyErr looks for before it builds dependencies.
MISSING_DEPENDENCY_MARKERS = (
    "found in Chart.yaml, but missing in charts/ directory",
    "found in requirements.yaml, but missing in charts/ directory",
)

class ChartRenderError(RuntimeError):
    """helm failed; the message carries helm's own error output."""


# --- YAML as the API server's clients read it ----------------------------------------------------

class GoYamlLoader(yaml.SafeLoader):
    """Safe loader that also reads 1e3-style plain scalars as floats.

    Argo CD and kubectl parse manifests with Go YAML, for which an unquoted 6063e25 is a float;
    PyYAML's YAML 1.1 rules would keep it a string and hide a broken (unquoted) image tag.
    """


GoYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)$"),
    list("-+.0123456789"),
)


def load_manifests(text: str) -> list[dict]:
    """The objects of a multi-document YAML stream, empty documents dropped."""
    return [doc for doc in yaml.load_all(text, Loader=GoYamlLoader) if doc]


# --- Applications -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChartSource:
    """What Argo CD takes from an Application to render its chart."""

    app_name: str
    path: str
    release: str
    namespace: str
    value_files: tuple[str, ...]

    @property
    def service(self) -> str:
        return Path(self.path).name

    @classmethod
    def from_application(cls, app: dict) -> "ChartSource":
        spec = app["spec"]
        source = spec["source"]
        helm = source.get("helm", {})
        return cls(
            app_name=app["metadata"]["name"],
            path=source["path"],
            release=helm.get("releaseName") or app["metadata"]["name"],
            namespace=spec["destination"]["namespace"],
            value_files=tuple(helm.get("valueFiles", ())),
        )


def chart_applications(manifests: Iterable[dict]) -> list[dict]:
    """The Argo CD Applications that render a chart of this repository's charts/ directory."""
    return [
        m for m in manifests
        if m.get("kind") == "Application"
        and str(m.get("spec", {}).get("source", {}).get("path", "")).startswith(CHARTS_FOLDER + "/")
    ]


# --- helm -----------------------------------------------------------------------------------------

def default_helm() -> str:
    tools = tools_dir()
    helm = tools / "helm"
    if not helm.is_file():
        raise ChartRenderError(f"helm is not built: run `make tools` (looked in {tools})")
    return str(helm)


def helm_env(home: Path) -> dict[str, str]:
    """Environment isolating helm from the user's repositories, plugins and registry logins."""
    env = dict(os.environ)
    env.update(
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_DATA_HOME=str(home / "data"),
    )
    return env


def run_helm(helm: str, args: list[str], *, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [helm, *args], cwd=cwd, env=helm_env(home), capture_output=True, text=True, check=False
    )


def fresh_checkout(repo_root: Path, dest: Path) -> Path:
    """Copy charts/ as a Git checkout has it: without the git-ignored dependency archives."""
    target = dest / CHARTS_FOLDER
    shutil.copytree(repo_root / CHARTS_FOLDER, target, ignore=shutil.ignore_patterns("*.tgz"))
    return dest


class Renderer:
    """Renders charts from one fresh checkout, the way one Argo CD repo server would.

    The checkout is made once; `helm dependency build` then runs at most once per chart, on the
    first render that needs it, exactly as it would in Argo CD's working copy.
    """

    def __init__(self, repo_root: Path = REPO_ROOT, helm: str | None = None, workdir: Path | None = None):
        self.repo_root = Path(repo_root)
        self.helm = helm or default_helm()
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="render-charts-")
            workdir = Path(self._tmp.name)
        self.workdir = Path(workdir)
        self.home = self.workdir / "helm-home"
        self.checkout = fresh_checkout(self.repo_root, self.workdir / "checkout")
        self.dependency_builds: list[str] = []

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def chart_dir(self, source: ChartSource) -> Path:
        return self.checkout / source.path

    def template_args(self, source: ChartSource, extra_args: Iterable[str] = ()) -> list[str]:
        chart_dir = self.chart_dir(source)
        args = ["template", ".", "--name-template", source.release, "--namespace", source.namespace,
                "--kube-version", KUBE_VERSION]
        args += [a for f in source.value_files for a in ("--values", str(chart_dir / f))]
        args += list(extra_args)
        args += [a for v in API_VERSIONS for a in ("--api-versions", v)]
        args.append("--include-crds")
        return args

    def dependency_build(self, source: ChartSource) -> None:
        result = run_helm(self.helm, ["dependency", "build"], cwd=self.chart_dir(source), home=self.home)
        if result.returncode != 0:
            raise ChartRenderError(f"helm dependency build {source.path} failed:\n{result.stderr.strip()}")
        self.dependency_builds.append(source.path)

    def render_text(self, source: ChartSource, extra_args: Iterable[str] = ()) -> str:
        """helm template's output for the chart of an Application, building dependencies on demand."""
        args = self.template_args(source, extra_args)
        result = run_helm(self.helm, args, cwd=self.chart_dir(source), home=self.home)
        if result.returncode != 0 and any(m in result.stderr for m in MISSING_DEPENDENCY_MARKERS):
            self.dependency_build(source)
            result = run_helm(self.helm, args, cwd=self.chart_dir(source), home=self.home)
        if result.returncode != 0:
            raise ChartRenderError(
                f"helm template {source.path} (release {source.release}) failed:\n{result.stderr.strip()}"
            )
        return result.stdout

    def render(self, source: ChartSource, extra_args: Iterable[str] = ()) -> list[dict]:
        return load_manifests(self.render_text(source, extra_args))

    def lint(self, source: ChartSource) -> str:
        """`helm lint --strict` with the Application's value files; returns helm's output on success."""
        if not any(self.chart_dir(source).glob("charts/*.tgz")):
            self.render_text(source)  # builds the dependency the way a first Argo CD render does
        chart_dir = self.chart_dir(source)
        args = ["lint", ".", "--strict", "--namespace", source.namespace, "--kube-version", KUBE_VERSION]
        args += [a for f in source.value_files for a in ("--values", str(chart_dir / f))]
        result = run_helm(self.helm, args, cwd=chart_dir, home=self.home)
        if result.returncode != 0:
            raise ChartRenderError(
                f"helm lint --strict {source.path} failed:\n{(result.stdout + result.stderr).strip()}"
            )
        return result.stdout


def render_application(app: dict, *, helm: str | None = None, repo_root: Path = REPO_ROOT,
                       renderer: Renderer | None = None) -> list[dict]:
    """The manifests Argo CD applies for an Application dict."""
    source = ChartSource.from_application(app)
    if renderer is not None:
        return renderer.render(source)
    with Renderer(repo_root, helm) as own:
        return own.render(source)


# --- stacks -----------------------------------------------------------------------------------------

def stack_manifests(stack: str) -> list[dict]:
    """Every object the Pulumi program registers for a stack (offline render)."""
    return render_stack(stack).manifests


def render_stack_charts(stack: str, manifests: list[dict] | None = None, *,
                        renderer: Renderer | None = None, repo_root: Path = REPO_ROOT,
                        out_dir: Path | None = None) -> dict[str, list[dict]]:
    """Render every chart Application of a stack; write build/render/<stack>/charts/<svc>.yaml.

    Returns service name -> manifests.
    """
    if manifests is None:
        manifests = stack_manifests(stack)
    apps = chart_applications(manifests)
    if not apps:
        raise ChartRenderError(f"stack {stack}: no Argo CD Application renders a chart of {CHARTS_FOLDER}/")
    own = renderer is None
    renderer = renderer or Renderer(repo_root)
    try:
        target = Path(out_dir) if out_dir is not None else Path(repo_root) / "build" / "render" / stack / "charts"
        target.mkdir(parents=True, exist_ok=True)
        result = {}
        for app in apps:
            source = ChartSource.from_application(app)
            text = renderer.render_text(source)
            (target / f"{source.service}.yaml").write_text(text)
            result[source.service] = load_manifests(text)
        return result
    finally:
        if own:
            renderer.close()


def render_all(applications: dict[str, list[dict]], *, helm: str | None = None,
               repo_root: Path = REPO_ROOT) -> dict[tuple[str, str], list[dict]]:
    """Render every chart of every stack from one fresh checkout: (stack, service) -> manifests.

    `applications` maps a stack to its Application objects (chart_applications of its render),
    so a benchmark can time the nine chart renders alone, dependency builds included.
    """
    out = {}
    with Renderer(repo_root, helm) as renderer:
        for stack, apps in applications.items():
            for app in apps:
                source = ChartSource.from_application(app)
                out[(stack, source.service)] = renderer.render(source)
    return out


def total_requests(manifests: Iterable[dict]) -> dict[str, float]:
    """Sum over Deployments of replicas x container requests: {"cpu": cores, "memory": bytes}."""
    total = {"cpu": 0.0, "memory": 0.0}
    for obj in manifests:
        if obj.get("kind") != "Deployment":
            continue
        replicas = obj["spec"].get("replicas", 1)
        for container in obj["spec"]["template"]["spec"].get("containers", []):
            requests = container.get("resources", {}).get("requests", {})
            for key in total:
                total[key] += replicas * parse_quantity(requests.get(key, 0))
    return total
