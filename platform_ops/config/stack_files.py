"""A stack's Pulumi.<stack>.yaml read straight from the repository, without Pulumi: for the
scripts, the offline render and the testbed, which run outside a Pulumi program."""
from __future__ import annotations

from pathlib import Path

import yaml

from platform_ops.config.errors import MissingStackFile
from platform_ops.contract import PROJECT
from platform_ops.paths import REPO_ROOT, stack_file_path


def stack_file(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml, keys with their project prefix."""
    path = stack_file_path(stack, repo_root)
    if not path.is_file():
        raise MissingStackFile(f"{path.name}: no such stack file")
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {}


def stack_file_config(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `platform-ops:*` settings of Pulumi.<stack>.yaml, keys without the project prefix."""
    prefix = f"{PROJECT}:"
    return {key[len(prefix):]: value for key, value in stack_file(stack, repo_root).items()
            if key.startswith(prefix)}
