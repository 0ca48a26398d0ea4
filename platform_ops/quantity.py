"""Kubernetes resource quantities (CPU and memory) and Prometheus durations as numbers."""
from __future__ import annotations

from typing import Any

from platform_ops.contract import DURATION

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_quantity(value: Any) -> float:
    """CPU or memory quantity as a number (cores or bytes)."""
    text = str(value)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


def duration_seconds(duration: str) -> float:
    """Seconds in a single-unit Prometheus duration such as 30s or 5m."""
    match = DURATION.fullmatch(duration)
    if not match:
        raise ValueError(f"{duration!r} is not a Prometheus duration such as 30s or 5m")
    return int(match.group(1)) * _SECONDS[match.group(2)]
