"""Reading rendered manifests: the helpers every check shares."""
from __future__ import annotations

from typing import Iterable, Iterator

def ref(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(manifests: Iterable[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m.get("kind") == kind]


def pod_spec(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("spec", {}) or {}


def pod_labels(workload: dict) -> dict:
    return workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}


def all_containers(spec: dict) -> Iterator[dict]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def container_port_names(spec: dict) -> dict[str, int]:
    return {p["name"]: p.get("containerPort") for c in spec.get("containers") or []
            for p in c.get("ports") or [] if "name" in p}


def selects(match_labels: dict | None, labels: dict) -> bool:
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())
