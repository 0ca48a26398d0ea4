"""The errors the config package raises; at the bottom, so every other module may import them."""
from __future__ import annotations


class ConfigError(Exception):
    """One or more invalid stack settings; the message lists each on its own line."""


class MissingStackFile(ConfigError, FileNotFoundError):
    """No Pulumi.<stack>.yaml: the stack does not exist in this repository."""
