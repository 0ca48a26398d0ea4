"""The settings as the running Pulumi program sees them, and the switch that tells the program
it runs under the offline render's mocks. The only module of the package that touches Pulumi."""
from __future__ import annotations

import json
import os
from typing import Any

from platform_ops.config.settings import SECRET_KEYS, PlatformConfig
from platform_ops.config.stack_files import lines_of_settings
from platform_ops.config.validation import load_config
from platform_ops.contract import PROJECT

# Set by scripts/render.py: the program runs under mocks, with no cluster and no network.
OFFLINE_RENDER_ENV = "PLATFORM_OPS_OFFLINE_RENDER"


def offline_render() -> bool:
    return os.environ.get(OFFLINE_RENDER_ENV) == "1"


def read_pulumi_config(stack: str) -> PlatformConfig:
    """Read the running stack's config through Pulumi and validate it."""
    # Imported here, not at the top: the package re-exports this function, and the scripts and
    # chart checks that only read stack files or chart values should not load Pulumi's runtime.
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    raw: dict[str, Any] = {}
    prefix = f"{PROJECT}:"
    config = pulumi.Config(PROJECT)
    # The SDK has no public way to list the keys that are set; listing them is
    # what lets a misspelt key fail instead of being silently ignored.
    for full_key, value in {**get_config_env(), **CONFIG.get()}.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        if key in SECRET_KEYS:
            continue
        try:
            raw[key] = json.loads(value)
        except ValueError:
            raw[key] = value
    secrets: dict[str, Any] = {key: config.get_secret(key) for key in SECRET_KEYS if config.get(key) is not None}
    # The admin password is hashed by the program, so it is read as text; every
    # value made from it leaves the program as a secret.
    if "argocdAdminPassword" in secrets:
        secrets["argocdAdminPassword"] = config.get("argocdAdminPassword")
    return load_config(stack, raw, secrets=secrets, lines=lines_of_settings(stack, raw))
