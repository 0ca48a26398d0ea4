"""Helpers of the Prometheus tests.

`run_program` runs the Prometheus component alone under Pulumi's mock engine and records what it
registers: the stack render (scripts/render.py) shows the component as the program wires it,
this shows the component's own behaviour (arguments, provider, validation) with any arguments.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

from components.prometheus import PrometheusArgs
from platform_ops.config import load_config, stack_file
from platform_ops.contract import PROJECT
from platform_ops.render.program import Registration, run_under_mocks

RULE_TESTS_DIR = Path(__file__).resolve().parent / "rules"


def run_program(program: Callable[[], None], stack: str = "test") -> list[Registration]:
    """Run `program` as a Pulumi program under mocks; every registration, in order."""
    return run_under_mocks(program, stack).resources


def program_args(stack: str) -> PrometheusArgs:
    """The arguments __main__.py derives from the stack's configuration."""
    raw = {key[len(PROJECT) + 1:]: value for key, value in stack_file(stack).items()
           if key.startswith(f"{PROJECT}:") and not (isinstance(value, dict) and set(value) == {"secure"})}
    cfg = load_config(stack, raw)
    return PrometheusArgs(
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

