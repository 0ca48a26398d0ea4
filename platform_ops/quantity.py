"""Kubernetes resource quantities (CPU and memory) as numbers."""
from __future__ import annotations

from typing import Any


def parse_quantity(value: Any) -> float:
    """CPU or memory quantity as a number (cores or bytes)."""
    text = str(value)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)
