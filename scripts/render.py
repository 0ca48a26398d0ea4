"""Offline render: run the Pulumi program under Pulumi's mock engine and write
every Kubernetes object it registers, as YAML, to build/render/<stack>/.

No Pulumi CLI, no cluster, no network. Secret values never reach the output:
they are written as "[secret]". Prints what should be running (services and
platform parts, scripts/render_summary.py), also written to summary.md; the
registered objects are listed in objects.md. `--diff A B` prints what differs
between two stacks and writes nothing.

    python scripts/render.py STACK [--out DIR] [--no-charts]
    python scripts/render.py --diff STACK OTHER
"""
from __future__ import annotations

import argparse
import contextvars
import json
import os
import runpy
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import pulumi  # noqa: E402
from pulumi.runtime import mocks, rpc  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402

from config import OFFLINE_RENDER_ENV, PROJECT  # noqa: E402

REDACTED = "[secret]"
K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"
# Components that the Kubernetes provider expands at deploy time; under mocks
# they have no children, so their inputs are what the render can show.
K8S_REMOTE_COMPONENTS = {"kubernetes:helm.sh/v4:Chart", "kubernetes:yaml/v2:ConfigFile"}

# What the mock engine returns for outputs that only a real deployment computes.
MOCK_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    dependencies: list[str]
    inputs: dict
    custom: bool
    read: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    # What a component registered with register_outputs.
    outputs: Optional[dict] = None

    @property
    def is_kubernetes_object(self) -> bool:
        return (self.custom and self.type.startswith("kubernetes:")
                and self.type not in K8S_REMOTE_COMPONENTS)

    @property
    def is_patch(self) -> bool:
        return self.type.endswith("Patch")


@dataclass
class Render:
    stack: str
    resources: list[Registration]
    outputs: dict
    log: list[str] = field(default_factory=list)
    # The config.PlatformConfig the program ran with.
    config: Any = None

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registration:
        return next(r for r in self.resources if r.name == name)

    def component_of(self, resource: Registration) -> str:
        """Name of the top-level component that owns a resource."""
        current, owner = resource, resource.name
        while current.parent and urn_type(current.parent) != "pulumi:pulumi:Stack":
            current = self.by_urn(current.parent)
            owner = current.name
        return owner

    @property
    def manifests(self) -> list[dict]:
        """Kubernetes objects the program creates, secrets redacted."""
        return [manifest(r) for r in self.resources
                if r.is_kubernetes_object and not r.is_patch and not r.read]

    @property
    def patches(self) -> list[dict]:
        return [manifest(r) for r in self.resources if r.is_kubernetes_object and r.is_patch]


def urn_type(urn: str) -> str:
    """The resource type in a URN (its parent types come before a "$")."""
    return urn.split("::")[2].rsplit("$", 1)[-1]


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def redact(value: Any, inside_secret: bool = False) -> Any:
    """Replace every secret leaf with "[secret]", keeping the shape of maps and lists."""
    if is_secret(value):
        return redact(rpc.unwrap_rpc_secret(value), inside_secret=True)
    if isinstance(value, dict):
        return {k: redact(v, inside_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, inside_secret) for v in value]
    return REDACTED if inside_secret else value


def normalized(value: Any) -> Any:
    """Inputs as Kubernetes holds them: the engine hands them over as protobuf
    maps, whose order is not stable, and whose numbers are all floats."""
    if isinstance(value, dict):
        return {k: normalized(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def manifest(registration: Registration) -> dict:
    body = normalized({k: v for k, v in redact(registration.inputs).items() if not k.startswith("__")})
    ordered = {key: body.pop(key) for key in ("apiVersion", "kind", "metadata") if key in body}
    ordered.update(body)
    return ordered


class _RecordingMocks(pulumi.runtime.Mocks):
    """Returns inputs as outputs, plus the kind cluster's kubeconfig, which only a deployment computes."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "command:local:Command":
            state["stdout"] = MOCK_KUBECONFIG
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class _RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, keeping what Mocks.new_resource is not told: parent,
    provider and dependencies of every registration."""

    def __init__(self, mocks_impl):
        super().__init__(mocks_impl)
        self.registrations: list[Registration] = []

    def _record(self, request, read: bool) -> None:
        inputs = rpc.deserialize_properties(request.properties if read else request.object)
        self.registrations.append(Registration(
            type=request.type,
            name=request.name,
            urn=self.make_urn(request.parent, request.type, request.name),
            parent=request.parent,
            provider=request.provider,
            dependencies=sorted(getattr(request, "dependencies", []) or []),
            inputs=inputs,
            custom=read or bool(request.custom),
            read=read,
            additional_secret_outputs=[] if read else list(request.additionalSecretOutputs),
        ))

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, read=False)
        return super().RegisterResource(request)

    def ReadResource(self, request):
        self._record(request, read=True)
        return super().ReadResource(request)

    def RegisterResourceOutputs(self, request):
        outputs = rpc.deserialize_properties(request.outputs)
        for registration in self.registrations:
            if registration.urn == request.urn:
                registration.outputs = outputs
        return super().RegisterResourceOutputs(request)


class _LogCollector:
    def __init__(self):
        self.lines: list[str] = []

    def _add(self, level: str, message, *args, **kwargs):
        self.lines.append(f"{level}: {message}")

    def debug(self, message, *args, **kwargs):
        pass

    def info(self, message, *args, **kwargs):
        self._add("info", message)

    def warning(self, message, *args, **kwargs):
        self._add("warning", message)

    def error(self, message, *args, **kwargs):
        self._add("error", message)


def stack_config(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml."""
    path = repo_root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path.name}: no such stack file")
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {}


def render_stack(stack: str, config: Optional[dict] = None, secrets: Optional[dict] = None,
                 offline: bool = True) -> Render:
    """Run the program for `stack` under mocks.

    `config` replaces the stack file's config block (keys like
    "platform-ops:argocd"); `secrets` adds secret settings by key without the
    project prefix. Encrypted values in the stack file render as "[secret]".
    With `offline=False` the program does what a real run does before it
    registers anything: check cluster access and fetch and verify sources."""
    raw = stack_config(stack) if config is None else config
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = REDACTED
            secret_keys.append(key)
        else:
            values[key] = value if isinstance(value, str) else json.dumps(value)
    for key, value in (secrets or {}).items():
        values[f"{PROJECT}:{key}"] = value
        secret_keys.append(f"{PROJECT}:{key}")
    main = str(REPO_ROOT / "__main__.py")
    program_globals: dict = {}

    def program() -> None:
        previous = os.environ.pop(OFFLINE_RENDER_ENV, None)
        if offline:
            os.environ[OFFLINE_RENDER_ENV] = "1"
        try:
            program_globals.update(runpy.run_path(main, run_name="__pulumi_program__"))
        finally:
            os.environ.pop(OFFLINE_RENDER_ENV, None)
            if previous is not None:
                os.environ[OFFLINE_RENDER_ENV] = previous

    render = run_under_mocks(program, stack, values, secret_keys)
    render.config = _platform_config(stack, raw, program_globals)
    return render


def _platform_config(stack: str, raw: dict, program_globals: dict) -> Any:
    """The PlatformConfig the program read; read again from `raw` if the program keeps none."""
    import config as platform_config

    for value in program_globals.values():
        if isinstance(value, platform_config.PlatformConfig):
            return value
    prefix = f"{PROJECT}:"
    secret_keys = getattr(platform_config, "SECRET_KEYS", ("registryToken",))
    settings = {key[len(prefix):]: value for key, value in raw.items()
                if key.startswith(prefix) and key[len(prefix):] not in secret_keys
                and not (isinstance(value, dict) and set(value) == {"secure"})}
    return platform_config.load_config(stack, settings)


def run_under_mocks(program: Callable[[], Any], stack: str, config: Optional[dict] = None,
                    secret_keys: Sequence[str] = ()) -> Render:
    """Run `program` as a Pulumi program of `stack` under the mock engine, in a
    fresh context: every run starts with no root stack and only `config`."""
    return contextvars.Context().run(_run, program, stack, config or {}, list(secret_keys))


def _run(program: Callable[[], Any], stack: str, config: dict, secret_keys: list) -> Render:
    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())
    recording = _RecordingMocks()
    monitor = _RecordingMonitor(recording)
    log = _LogCollector()
    pulumi.runtime.set_mocks(recording, project=PROJECT, stack=stack, preview=False,
                             monitor=monitor, logger=log)
    pulumi.runtime.set_all_config(config, secret_keys)
    root = pulumi.runtime.settings.get_root_resource()
    _sync_await(run_pulumi_func(program))
    outputs = {name: _resolve(value) for name, value in sorted(root.outputs.items())}
    return Render(stack, monitor.registrations, outputs, log.lines)


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    return REDACTED if _sync_await(output.is_secret()) else redact(resolved)


def summary_rows(render: Render) -> list[tuple[str, str, str]]:
    rows = []
    for r in render.resources:
        if r.is_kubernetes_object and not r.read:
            body = r.inputs
            meta = body.get("metadata") or {}
            where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta.get("name", "")
            kind = body.get("kind", "") + (" (patch)" if r.is_patch else "")
            rows.append((render.component_of(r), kind, where))
        elif r.type in K8S_REMOTE_COMPONENTS:
            source = r.inputs.get("chart") or r.inputs.get("file")
            version = r.inputs.get("version")
            rows.append((render.component_of(r), r.type.rsplit(":", 1)[1],
                         f"{source}@{version}" if version else source))
    return sorted(rows)


def write_render(render: Render, out_dir: Path, charts: bool = True) -> str:
    """Replace out_dir with the render, atomically: a failed render leaves the old one.

    With `charts`, each Application's chart is rendered the way Argo CD will
    render it, into charts/<service>.yaml. Returns the summary, also written to
    summary.md; objects.md lists the registered objects."""
    from scripts.render_charts import render_stack_charts
    from scripts.render_summary import format_objects, format_summary, summarize

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        by_component: dict[str, list[dict]] = {}
        for r in render.resources:
            if r.is_kubernetes_object and not r.read:
                by_component.setdefault(render.component_of(r), []).append(manifest(r))
        for component, docs in sorted(by_component.items()):
            docs.sort(key=lambda d: (d.get("kind", ""), d["metadata"].get("namespace", ""),
                                     d["metadata"].get("name", "")))
            (staging / f"{component}.yaml").write_text(
                yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False))
        remote = [{"component": render.component_of(r), "type": r.type, "name": r.name, "inputs": redact(r.inputs)}
                  for r in render.resources if r.type in K8S_REMOTE_COMPONENTS]
        remote.sort(key=lambda item: item["name"])
        (staging / "installs.yaml").write_text(yaml.safe_dump(normalized(remote), sort_keys=True))
        (staging / "outputs.yaml").write_text(yaml.safe_dump(render.outputs, sort_keys=True))
        chart_manifests = None
        if charts:
            chart_manifests = render_stack_charts(render.stack, render.manifests, out_dir=staging / "charts")
        summary = format_summary(summarize(render.stack, render.config, render.manifests, chart_manifests))
        (staging / "summary.md").write_text(summary)
        (staging / "objects.md").write_text(format_objects(render.stack, summary_rows(render)))
    except BaseException:
        shutil.rmtree(staging)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return summary


def stack_summary(stack: str, renderer=None):
    """Render a stack and its charts without writing anything; its StackSummary."""
    from scripts.render_charts import render_stack_charts
    from scripts.render_summary import summarize

    render = render_stack(stack)
    with tempfile.TemporaryDirectory(prefix="render-summary-") as tmp:
        charts = render_stack_charts(stack, render.manifests, renderer=renderer, out_dir=Path(tmp))
    return summarize(stack, render.config, render.manifests, charts)


def shown_path(path: Path) -> str:
    """A folder as printed: relative to the working directory, so no home or checkout path shows."""
    return os.path.relpath(path, Path.cwd())


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?")
    parser.add_argument("--out", type=Path, help="output folder (default build/render/STACK)")
    parser.add_argument("--no-charts", action="store_true", help="skip rendering the charts with helm")
    parser.add_argument("--diff", nargs=2, metavar=("STACK", "OTHER"),
                        help="print what differs between two stacks (renders both, writes nothing)")
    args = parser.parse_args(argv)
    if bool(args.diff) == bool(args.stack):
        parser.error("give either a STACK to render or --diff STACK OTHER")
    if args.diff and (args.out or args.no_charts):
        parser.error("--diff takes no --out or --no-charts")

    from scripts.render_charts import ChartRenderError

    try:
        if args.diff:
            return _diff(*args.diff)
        render = render_stack(args.stack)
        out_dir = args.out or REPO_ROOT / "build" / "render" / args.stack
        summary = write_render(render, out_dir, charts=not args.no_charts)
    except FileNotFoundError as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    except pulumi.RunError as error:
        print(str(error), file=sys.stderr)
        return 1
    except ChartRenderError as error:
        print(f"render: {error}", file=sys.stderr)
        return 1
    where = shown_path(out_dir)
    print(summary, end="")
    print(f"\n{len(summary_rows(render))} objects of stack {args.stack} written to {where}, "
          f"listed in {where}/objects.md")
    return 0


def _diff(stack: str, other: str) -> int:
    from scripts.render_charts import Renderer
    from scripts.render_summary import diff_summaries

    for name in (stack, other):
        stack_config(name)  # an unknown stack fails before anything renders
    with Renderer(REPO_ROOT) as renderer:
        summaries = [stack_summary(name, renderer) for name in (stack, other)]
    print(diff_summaries(*summaries), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
