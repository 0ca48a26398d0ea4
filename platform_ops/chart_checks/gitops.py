"""What keeps Argo CD's view stable: no endless diff, no hooks, no non-deterministic template, the image tag, the AppProject."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from platform_ops.chart_checks.manifests import of_kind, pod_labels, pod_spec, ref

# Functions whose output changes between two renders, or depends on the cluster: Argo CD would
# see a diff on every refresh (or render differently from these tests).
NON_DETERMINISTIC_FUNCTIONS = (
    "randAlphaNum", "randAlpha", "randNumeric", "randAscii", "randBytes", "randInt", "shuffle",
    "now", "lookup", "genCA", "genCAWithKey",
    "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
    "genPrivateKey", "uuidv4", "htpasswd", "bcrypt",
)


def check_image_tag(manifests: Iterable[dict], tag: str, digest: str = "") -> list[str]:
    """The image and the version label carry `tag` as a string, as Go YAML (Argo CD, kubectl) reads them,
    and the image is pinned by `digest` when the values give one."""
    problems = []
    for workload in of_kind(manifests, "Deployment"):
        for where, labels in ((ref(workload), workload["metadata"].get("labels") or {}),
                              (f"{ref(workload)}: pod template", pod_labels(workload))):
            version = labels.get("app.kubernetes.io/version")
            if not isinstance(version, str):
                problems.append(f"{where}: label app.kubernetes.io/version is {type(version).__name__} "
                                f"{version!r}, not a string")
            elif version != tag.replace(":", "-")[:63]:
                problems.append(f"{where}: label app.kubernetes.io/version is {version!r}, expected {tag!r}")
        if tag.startswith("sha256:"):
            suffix = f"@{tag}"
        else:
            suffix = f":{tag}@{digest}" if digest else f":{tag}"
        for c in pod_spec(workload).get("containers") or []:
            image = c.get("image")
            if not isinstance(image, str) or not image.endswith(suffix):
                problems.append(f"{ref(workload)}: container {c.get('name')} image {image!r} does not end in {suffix}")
    return problems


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def check_gitops_stable(manifests: Iterable[dict]) -> list[str]:
    """No nulls or empty maps/lists (the live object drops them: endless diff), no Helm hooks
    (Argo CD runs them as sync hooks, not as part of the app), label values all strings."""
    problems = []
    for obj in manifests:
        for path, value in _walk(obj, ""):
            if value is None or (isinstance(value, (dict, list)) and not value):
                problems.append(f"{ref(obj)}: {path} is {'null' if value is None else repr(value)}")
        meta = obj.get("metadata", {})
        for key in meta.get("annotations") or {}:
            if key.startswith("helm.sh/hook"):
                problems.append(f"{ref(obj)}: annotation {key} makes it a Helm hook")
        for path, value in _walk(meta.get("labels") or {}, "metadata.labels"):
            if path != "metadata.labels" and not isinstance(value, str):
                problems.append(f"{ref(obj)}: {path} is {type(value).__name__} {value!r}, not a string")
    return problems


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


def check_template_sources(chart_dirs: Iterable[Path]) -> list[str]:
    """No template calls a function whose result changes between renders or reads the cluster."""
    pattern = re.compile(r"(?<![\w.$])(" + "|".join(NON_DETERMINISTIC_FUNCTIONS) + r")\b")
    problems = []
    for chart in chart_dirs:
        for path in sorted(Path(chart).glob("templates/**/*")):
            if not path.is_file():
                continue
            text = path.read_text()
            for action in _ACTION.finditer(text):
                body = re.sub(r"/\*.*?\*/", "", action.group(1), flags=re.S)
                body = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', body)
                for match in pattern.finditer(body):
                    line = text.count("\n", 0, action.start()) + 1
                    problems.append(f"{path.relative_to(Path(chart).parent)}:{line}: uses {match.group(1)}")
    return problems


def check_project_permits(manifests: Iterable[dict], project: dict) -> list[str]:
    """Every object's kind is in the Argo CD AppProject's namespaceResourceWhitelist."""
    allowed = {(w.get("group", ""), w.get("kind")) for w in project.get("spec", {}).get("namespaceResourceWhitelist") or []}
    problems = []
    for obj in manifests:
        group = obj["apiVersion"].rpartition("/")[0]
        if (group, obj["kind"]) not in allowed and ("*", "*") not in allowed:
            problems.append(f"{ref(obj)}: kind {obj['kind']} of group {group or 'core'!r} is not permitted by "
                            f"AppProject {project['metadata']['name']}")
    return problems
