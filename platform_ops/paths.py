"""Where the repository keeps things, and where `make tools` and `make testbed` put what they build."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The folder of the Helm charts, as Argo CD Applications name it (source.path "charts/<service>").
CHARTS_FOLDER = "charts"
CHARTS_DIR = REPO_ROOT / CHARTS_FOLDER
# Prometheus's recording rules and alerts, one file per group.
PROMETHEUS_RULES_DIR = REPO_ROOT / "prometheus" / "rules"
# What a run of the Pulumi program needs from the repository, besides the stack files: a copy of
# these runs exactly as the repository does.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "platform_ops", "components", "charts", "prometheus")

# The Makefile exports both; a run outside make falls back to the repository's own folders.
TOOLS_ENV = "PLATFORM_OPS_TOOLS"
TESTBED_ENV = "PLATFORM_OPS_TESTBED"


def tools_dir() -> Path:
    """Where `make tools` builds helm, prometheus, promtool and actionlint."""
    return Path(os.environ.get(TOOLS_ENV, REPO_ROOT / ".tools" / "bin"))


def testbed_dir() -> Path:
    """Where `make testbed` builds the control plane, the Pulumi engine and the mirrors."""
    return Path(os.environ.get(TESTBED_ENV, REPO_ROOT / ".tools" / "testbed"))


def stack_file_path(stack: str, repo_root: Path = REPO_ROOT) -> Path:
    return repo_root / f"Pulumi.{stack}.yaml"
