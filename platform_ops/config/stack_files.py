"""A stack's Pulumi.<stack>.yaml read straight from the repository, without Pulumi: for the
scripts, the offline render and the testbed, which run outside a Pulumi program, and for the line
of each setting, which problems name."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from platform_ops.config.errors import ConfigError, MissingStackFile
from platform_ops.config.settings import PlatformConfig
from platform_ops.config.validation import load_config
from platform_ops.config.yaml_files import YamlFile, key_name, read_yaml_file
from platform_ops.contract import PROJECT
from platform_ops.paths import CHARTS_FOLDER, REPO_ROOT, stack_file_path

_PREFIX = f"{PROJECT}:"


def read_stack_file(stack: str, repo_root: Path = REPO_ROOT) -> YamlFile:
    """Pulumi.<stack>.yaml parsed, its `config:` block checked to be a mapping; ConfigError
    with one line naming the file, line and key when it is not."""
    path = stack_file_path(stack, repo_root)
    if not path.is_file():
        raise MissingStackFile(f"{path.name}: no such stack file")
    parsed = read_yaml_file(path, path.name, key_prefix=("config",))
    if parsed.data is None:
        return YamlFile(parsed.shown, {}, parsed.lines)
    if not isinstance(parsed.data, dict):
        raise ConfigError(f"{path.name}:1: must be a mapping with a config: block, "
                          f"got a {type(parsed.data).__name__}")
    config = parsed.data.get("config")
    if config is not None and not isinstance(config, dict):
        raise ConfigError(parsed.problem(("config",), f"must be a mapping of settings, got {config!r}"))
    return parsed


def stack_file(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml, keys with their project prefix."""
    return read_stack_file(stack, repo_root).data.get("config") or {}


def stack_file_config(stack: str, repo_root: Path = REPO_ROOT) -> dict:
    """The `platform-ops:*` settings of Pulumi.<stack>.yaml, keys without the project prefix."""
    return _settings(stack_file(stack, repo_root))


def load_stack_file(stack: str, repo_root: Path = REPO_ROOT) -> PlatformConfig:
    """The settings of Pulumi.<stack>.yaml and the charts they deploy, validated as the program
    validates them (no secret), each problem on the line of the file where it is."""
    parsed = read_stack_file(stack, repo_root)
    return load_config(stack, _settings(parsed.data.get("config") or {}), charts_dir=repo_root / CHARTS_FOLDER,
                       lines=_settings_lines(parsed))


def lines_of_settings(stack: str, settings: Mapping[str, Any], repo_root: Path = REPO_ROOT) -> dict[str, int]:
    """The line in Pulumi.<stack>.yaml of each of `settings` (keys without the project prefix)
    that the stack file sets to the same value; none when the file cannot be read. The running
    program gets its settings from Pulumi, which can take them from elsewhere than the file."""
    try:
        parsed = read_stack_file(stack, repo_root)
    except ConfigError:
        return {}
    in_file = _settings(parsed.data.get("config") or {})
    same = {key for key, value in settings.items() if in_file.get(key, object()) == value}
    return {key: line for key, line in _settings_lines(parsed).items() if key.split(".")[0] in same}


def _settings_lines(parsed: YamlFile) -> dict[str, int]:
    """The line of each `platform-ops:*` setting, by the name problems give it: `cluster`,
    `cluster.httpPort`, `certManager.issuer.type`."""
    lines = {}
    for path, line in parsed.lines.items():
        if len(path) > 1 and path[0] == "config" and str(path[1]).startswith(_PREFIX):
            lines[key_name((path[1][len(_PREFIX):],) + path[2:])] = line
    return lines


def _settings(config: Mapping[str, Any]) -> dict:
    return {key[len(_PREFIX):]: value for key, value in config.items()
            if isinstance(key, str) and key.startswith(_PREFIX)}
