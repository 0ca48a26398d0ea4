"""How a stack's raw settings are walked: the reader that checks each field's shape and
collects every problem, worded as `Pulumi.<stack>.yaml:<line>: platform-ops:<key> <what is wrong>`
(the line when the settings come from the stack file), instead of stopping at the first."""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from platform_ops.config.yaml_files import located
from platform_ops.contract import DNS_LABEL, PROJECT
from platform_ops.paths import stack_file_path

# The settings each section may hold; anything else is a misspelling, refused rather than ignored.
_SECTION_KEYS = {
    "cluster": ("mode", "name", "nodeImage", "httpPort", "httpsPort", "kubeconfig", "context"),
    "ingress": ("controller", "chart", "chartVersion", "namespace", "className", "telemetryReporting"),
    "certManager": ("install", "version", "chart", "namespace", "issuer"),
    "certManager.issuer": ("type", "name", "email", "server"),
    "argocd": ("install", "namespace", "version", "installManifest", "installManifestSha256",
               "reconciliationTimeout", "reconciliationJitter", "adminEnabled"),
    "gitops": ("repoURL", "targetRevision", "namespace"),
    "registry": ("server", "username", "secretName"),
    "prometheus": ("version", "imageDigest", "retention", "scrapeInterval", "cpuRequest", "memoryRequest",
                   "memoryLimit", "apiServerCidrs"),
}


def show_value(value: Any) -> str:
    """A value as a problem quotes it: a string in double quotes, anything else as its repr."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


class SettingsReader:
    """Walks the raw config and collects every problem instead of stopping at the first."""

    def __init__(self, stack: str, raw: Mapping[str, Any], lines: Optional[Mapping[str, int]] = None):
        self.stack_file = stack_file_path(stack).name
        self.raw = raw
        # The stack file's line of each setting, by key (`cluster.httpPort`); empty when the
        # settings do not come from the file.
        self.lines = lines or {}
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{located(self.stack_file, self.line_of(key))}: {PROJECT}:{key} {text}")

    def line_of(self, key: str) -> Optional[int]:
        """The line of `key`, or of the nearest section above it: a missing key is added there."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None

    def section(self, name: str, required: bool = True, parent: Optional[Mapping[str, Any]] = None
                ) -> Mapping[str, Any]:
        value = (self.raw if parent is None else parent).get(name.rsplit(".", 1)[-1])
        if value is None:
            if required:
                self.problem(name, "is required")
            return {}
        if not isinstance(value, Mapping):
            self.problem(name, f"must be a mapping, got {show_value(value)}")
            return {}
        known = _SECTION_KEYS.get(name, ())
        for key in value:
            if key not in known:
                self.problem(f"{name}.{key}", f"is not a known setting (known: {', '.join(known)})")
        return value

    def string(self, section: Mapping[str, Any], path: str, default: Optional[str] = None,
               pattern: Optional[re.Pattern] = None, rule: str = "") -> Optional[str]:
        value = section.get(path.rsplit(".", 1)[1], default)
        if value is None:
            self.problem(path, "is required")
            return None
        if not isinstance(value, str) or not value:
            self.problem(path, f"must be a non-empty string, got {show_value(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(path, f"{rule}, got {show_value(value)}")
            return None
        return value

    def dns_label(self, section: Mapping[str, Any], path: str, default: Optional[str] = None) -> Optional[str]:
        return self.string(section, path, default, DNS_LABEL,
                           "must be a DNS label (lowercase letters, digits and '-', at most 63 characters)")

    def port(self, section: Mapping[str, Any], path: str, default: int) -> Optional[int]:
        value = section.get(path.rsplit(".", 1)[1], default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.problem(path, f"must be a port number between 1 and 65535, got {show_value(value)}")
            return None
        return value

    def boolean(self, section: Mapping[str, Any], path: str, default: bool) -> Optional[bool]:
        """A YAML true or false. Anything else is refused, quoted strings such as "false" too:
        Python would read the non-empty string "false" as true."""
        value = section.get(path.rsplit(".", 1)[1], default)
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, got {show_value(value)}")
            return None
        return value
