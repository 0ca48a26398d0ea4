"""The Pulumi program run under Pulumi's mock engine: every resource it registers, with its
parent, provider, dependencies and inputs, and its outputs, secret values as "[secret]".

No Pulumi CLI, no cluster, no network: the offline render (`make render`), the rendered
test tier and the benchmarks all read the program through `render_stack`."""
from __future__ import annotations

import contextvars
import json
import os
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from platform_ops.config import OFFLINE_RENDER_ENV, PlatformConfig, SECRET_KEYS, load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops.paths import REPO_ROOT

REDACTED = "[secret]"
K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"
# Components that the Kubernetes provider expands at deploy time; under mocks
# they have no children, so their inputs are what the render can show.
K8S_REMOTE_COMPONENTS = {"kubernetes:helm.sh/v4:Chart", "kubernetes:yaml/v2:ConfigFile"}

# What the mock engine returns for outputs that only a real deployment computes.
MOCK_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"
# The time the API server records for a field manager's apply, fixed so that renders compare.
MOCK_APPLIED_AT = "2000-01-01T00:00:00Z"
FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"


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
    # The PlatformConfig the program ran with.
    config: Optional[PlatformConfig] = None

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
    """Returns inputs as outputs, plus what only a deployment computes: the kind cluster's
    kubeconfig, and the API server's record of a named field manager's apply of a patch."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "command:local:Command":
            state["stdout"] = MOCK_KUBECONFIG
        metadata = state.get("metadata")
        manager = isinstance(metadata, dict) and (metadata.get("annotations") or {}).get(FIELD_MANAGER_ANNOTATION)
        if args.typ.endswith("Patch") and manager:
            state["metadata"] = {**metadata, "managedFields": [
                {"manager": manager, "operation": "Apply", "time": MOCK_APPLIED_AT}]}
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


def render_stack(stack: str, config: Optional[dict] = None, secrets: Optional[dict] = None,
                 offline: bool = True) -> Render:
    """Run the program for `stack` under mocks.

    `config` replaces the stack file's config block (keys like
    "platform-ops:argocd"); `secrets` adds secret settings by key without the
    project prefix. Encrypted values in the stack file render as "[secret]".
    With `offline=False` the program does what a real run does before it
    registers anything: check cluster access and fetch and verify sources."""
    raw = stack_file(stack) if config is None else config
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
    program_globals: dict = {}

    def program() -> None:
        previous = os.environ.pop(OFFLINE_RENDER_ENV, None)
        if offline:
            os.environ[OFFLINE_RENDER_ENV] = "1"
        try:
            # The project folder, as Pulumi runs it: on sys.path while its __main__.py runs.
            program_globals.update(runpy.run_path(str(REPO_ROOT), run_name="__pulumi_program__"))
        finally:
            os.environ.pop(OFFLINE_RENDER_ENV, None)
            if previous is not None:
                os.environ[OFFLINE_RENDER_ENV] = previous

    render = run_under_mocks(program, stack, values, secret_keys)
    render.config = _platform_config(stack, raw, program_globals)
    return render


def _platform_config(stack: str, raw: dict, program_globals: dict) -> PlatformConfig:
    """The PlatformConfig the program read; read again from `raw` if the program keeps none."""
    for value in program_globals.values():
        if isinstance(value, PlatformConfig):
            return value
    prefix = f"{PROJECT}:"
    settings = {key[len(prefix):]: value for key, value in raw.items()
                if key.startswith(prefix) and key[len(prefix):] not in SECRET_KEYS
                and not (isinstance(value, dict) and set(value) == {"secure"})}
    return load_config(stack, settings)


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
