"""The real Pulumi engine on a copy of the project, kept away from the user's
own Pulumi: its home, backend and passphrase live in a folder of the run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from platform_ops.contract import PROJECT
from platform_ops.paths import PROGRAM_FILES

PASSPHRASE = "platform-ops testbed"
# Longer than any await of the provider here (a Deployment waits 10 minutes by default) would be
# a hang; what it printed so far goes into the error.
COMMAND_TIMEOUT_SECONDS = 300


class PulumiError(Exception):
    pass


def merge_settings(stack_config: dict, overrides: dict) -> dict:
    """The stack's config block with `overrides` ({"argocd": {"installManifest": ...}})
    merged in, section by section."""
    merged = dict(stack_config)
    for section, settings in overrides.items():
        key = f"{PROJECT}:{section}"
        current = merged.get(key)
        merged[key] = {**current, **settings} if isinstance(current, dict) and isinstance(settings, dict) \
            else settings
    return merged


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class PulumiProject:
    """One stack of a copy of the project, run by the pinned engine in `testbed`."""

    testbed: Path
    source: Path
    workdir: Path
    stack: str
    python: Path
    history: list[Result] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.workdir / "project"

    def prepare(self, overrides: dict, secrets: Optional[dict] = None,
                files: tuple[str, ...] = PROGRAM_FILES) -> "PulumiProject":
        """Copy the project, write the stack's settings with `overrides`, create
        the stack on a file backend of the run and set `secrets` as secrets."""
        stack_file = self.source / f"Pulumi.{self.stack}.yaml"
        stack_config = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {}) if stack_file.exists() \
            else {}
        self.write_program(self.source, merge_settings(stack_config, overrides), files)
        (self.workdir / "state").mkdir(exist_ok=True)
        self.run("stack", "init")
        self.set_secrets({f"{PROJECT}:{key}": value for key, value in (secrets or {}).items()})
        return self

    def write_program(self, source: Path, config: dict, files: tuple[str, ...] = PROGRAM_FILES) -> None:
        """Make the copy run `source`'s program with the stack settings `config`, in place of what
        it ran before: the stack, its state and its encryption salt stay. A file `source` does
        not have is left out (an older program did not need it). `secure:` values are left out:
        they are encrypted with the stack's own passphrase, which the testbed does not have."""
        self.project.mkdir(parents=True, exist_ok=True)
        for name in files:
            target = self.project / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            path = source / name
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.tgz"))
            elif path.exists():
                shutil.copy2(path, target)
        stack_path = self.project / f"Pulumi.{self.stack}.yaml"
        previous = (yaml.safe_load(stack_path.read_text()) or {}) if stack_path.exists() else {}
        document = {key: value for key, value in previous.items() if key == "encryptionsalt"}
        document["config"] = {key: value for key, value in config.items()
                              if not (isinstance(value, dict) and set(value) == {"secure"})}
        stack_path.write_text(yaml.safe_dump(document, sort_keys=False))

    def set_secrets(self, secrets: dict[str, str]) -> None:
        """Set each of `secrets` (full keys, such as platform-ops:registryToken) as a secret."""
        for key, value in secrets.items():
            self.run("config", "set", "--secret", key, value, secret_args=True)

    def env(self) -> dict[str, str]:
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return {
            "PATH": os.pathsep.join([str(self.testbed), str(self.python.parent), "/usr/local/bin", "/usr/bin",
                                     "/bin"]),
            "HOME": str(home),
            "PULUMI_HOME": str(self.workdir / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # The language host built here predates `virtualenv:` in Pulumi.yaml.
            "PULUMI_PYTHON_CMD": str(self.python),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def run(self, *args: str, check: bool = True, secret_args: bool = False) -> Result:
        command = [str(self.testbed / "pulumi"), *args, "--stack", self.stack, "--non-interactive"]
        shown = ["pulumi", *(args[:-1] + ("[secret]",) if secret_args else args)]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=self.project, env=self.env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise PulumiError(f"{' '.join(shown)} still running after {COMMAND_TIMEOUT_SECONDS}s, stopped:\n"
                              f"{stdout[-6000:]}\n{stderr[-3000:]}") from None
        result = Result(shown, process.returncode, stdout, stderr, time.monotonic() - started)
        self.history.append(result)
        if check and result.returncode != 0:
            raise PulumiError(f"{' '.join(shown)} exited {result.returncode}:\n"
                              f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
        return result

    def preview(self, *flags: str, check: bool = True) -> Result:
        return self.run("preview", "--diff", *flags, check=check)

    def up(self, *flags: str, check: bool = True) -> Result:
        return self.run("up", "--yes", "--skip-preview", *flags, check=check)

    def destroy(self, check: bool = True) -> Result:
        return self.run("destroy", "--yes", "--skip-preview", check=check)

    def outputs(self, show_secrets: bool = False) -> dict:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.run(*args).stdout)

    def changes(self) -> list[str]:
        """What a preview would change: `op type name` for each step that is not a same."""
        steps = json.loads(self.run("preview", "--json").stdout).get("steps", [])
        return sorted(f"{step['op']} {step['urn'].split('::')[2]} {step['urn'].split('::')[3]}"
                      for step in steps if step["op"] != "same")
