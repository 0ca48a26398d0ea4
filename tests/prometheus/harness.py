"""Helpers of the Prometheus tests.

`run_program` runs PrometheusStack alone under Pulumi's mock engine and records what it
registers: the stack render (scripts/render.py) shows the component as the program wires it,
this shows the component's own behaviour (arguments, provider, validation) with any arguments.
"""
from __future__ import annotations

import asyncio
import contextvars
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.prometheus import PrometheusStackArgs
from config import PROJECT, load_config
from scripts.render import stack_config

RULE_TESTS_DIR = Path(__file__).resolve().parent / "rules"


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    inputs: dict
    outputs: dict | None = None


class RecordingMocks(pulumi.runtime.Mocks):
    """Resources echo their inputs as outputs; there are no provider functions to call."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(mocks.MockMonitor):
    """Keeps what the mocks are not told: parent, provider and custom flag of each registration."""

    def __init__(self, impl):
        super().__init__(impl)
        self.registered: list[Registered] = []

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(Registered(
                type=request.type,
                name=request.name,
                urn=self.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                provider=request.provider,
                custom=bool(request.custom),
                inputs=rpc.deserialize_properties(request.object),
            ))
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request):
        outputs = rpc.deserialize_properties(request.outputs)
        for registered in self.registered:
            if registered.urn == request.urn:
                registered.outputs = outputs
        return super().RegisterResourceOutputs(request)


def run_program(program: Callable[[], None], stack: str = "test") -> list[Registered]:
    """Run `program` as a Pulumi program under mocks; every registration, in order."""
    return contextvars.Context().run(_run, program, stack)


def _run(program: Callable[[], None], stack: str) -> list[Registered]:
    asyncio.set_event_loop(asyncio.new_event_loop())
    impl = RecordingMocks()
    monitor = RecordingMonitor(impl)
    pulumi.runtime.set_mocks(impl, project="platform-ops", stack=stack, preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(program))
    return monitor.registered


def integral(value):
    """The mock engine hands numbers over as floats; Kubernetes objects hold integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def program_args(stack: str) -> PrometheusStackArgs:
    """The arguments __main__.py derives from the stack's configuration."""
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_config(stack).items()
           if key.startswith(f"{PROJECT}:") and not (isinstance(value, dict) and set(value) == {"secure"})}
    cfg = load_config(stack, raw)
    return PrometheusStackArgs(
        settings=cfg.prometheus,
        app_namespaces=[cfg.gitops.namespace],
        apps=[app.service for app in cfg.gitops.apps],
    )


def write_files(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=300)

