"""Upstream manifests, fetched once and verified before anything is applied."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

# Relative to the project folder, where Pulumi runs the program and its
# providers: the same path on every machine, so it never shows as a diff.
SOURCES_DIR = Path("build") / "sources"

FETCH_TIMEOUT_SECONDS = 60


class SourceError(Exception):
    """A source that cannot be read, or whose bytes are not the pinned ones."""


def verified_copy_path(name: str, sha256: str) -> Path:
    """Where the verified copy of a manifest lives: named by its digest, so a
    new pin is a new file and a stale copy is never used."""
    return SOURCES_DIR / f"{name}-{sha256}.yaml"


def fetch_verified(name: str, source: str, sha256: str, setting: str) -> Path:
    """Read `source` (an https:// URL or a local path), check its SHA-256
    against `sha256`, and keep the verified bytes at verified_copy_path().

    `setting` names the source's setting (`Pulumi.dev.yaml: platform-ops:argocd.installManifest`);
    the digest's setting is the same with `Sha256` after it."""
    target = verified_copy_path(name, sha256)
    if target.is_file() and _sha256(target.read_bytes()) == sha256:
        return target
    content = _read(source, setting)
    actual = _sha256(content)
    if actual != sha256:
        raise SourceError(f"{setting}Sha256: {source} has SHA-256 {actual}, but {sha256} is pinned; "
                          "nothing was applied")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written whole or not at all: a half-written copy must never pass as verified.
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        partial.write(content)
    os.replace(partial.name, target)
    return target


def _read(source: str, setting: str) -> bytes:
    try:
        if source.startswith("https://"):
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT_SECONDS) as response:
                return response.read()
        return Path(os.path.expanduser(source)).read_bytes()
    except OSError as error:
        raise SourceError(f"{setting}: cannot read {source}: {error}") from None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
