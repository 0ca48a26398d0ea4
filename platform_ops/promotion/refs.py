"""What may be written into a values file: immutable tags and fully qualified image names.

Everything here is checked before any file is touched, because the values end up in YAML,
in commit messages and in Kubernetes manifests; a moving tag such as `latest` would make a
rollback by `git revert` meaningless.
"""
from __future__ import annotations

import re

from .errors import Refusal

# A commit SHA (short or full) or an OCI content digest. fullmatch, not `$`, so that a trailing
# newline cannot slip through.
_TAG = re.compile(r"[0-9a-f]{7,40}|sha256:[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{7,40}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

# The name part of the distribution reference grammar (github.com/distribution/reference),
# restricted to lowercase, and required to start with a registry host so that no image is
# silently resolved against docker.io.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*)(?::[0-9]+)?"
_REPOSITORY = re.compile(rf"(?P<domain>{_DOMAIN})(?:/{_PATH_COMPONENT})+")
_MAX_NAME_LENGTH = 255

TAG_HELP = "expected a 7-40 character lowercase hex commit SHA or a sha256:<64 hex> digest"
REPOSITORY_HELP = (
    "expected a fully qualified image name such as ghcr.io/zainasr/api-node "
    "(lowercase registry host and path, without tag or digest)"
)
COMMIT_HELP = "expected a 7-40 character lowercase hex commit SHA"
DIGEST_HELP = "expected sha256:<64 lowercase hex>, the digest the image build reports"


def is_valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def check_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise Refusal(f"invalid tag {tag!r}: {TAG_HELP}")
    return tag


def is_valid_digest(digest: str) -> bool:
    return _DIGEST.fullmatch(digest) is not None


def check_digest(digest: str) -> str:
    if not is_valid_digest(digest):
        raise Refusal(f"invalid digest {digest!r}: {DIGEST_HELP}")
    return digest


def is_valid_repository(repository: str) -> bool:
    if len(repository) > _MAX_NAME_LENGTH:
        return False
    match = _REPOSITORY.fullmatch(repository)
    if match is None:
        return False
    domain = match.group("domain")
    # Like the distribution parser: the first component is a registry host only when it
    # looks like one; otherwise `zainasr/api-node` would be a docker.io short name.
    return "." in domain or ":" in domain or domain == "localhost"


def check_repository(repository: str) -> str:
    if not is_valid_repository(repository):
        raise Refusal(f"invalid image repository {repository!r}: {REPOSITORY_HELP}")
    return repository


def is_valid_commit(sha: str) -> bool:
    return _COMMIT.fullmatch(sha) is not None


def check_source_commit(sha: str) -> str:
    if not is_valid_commit(sha):
        raise Refusal(f"invalid source commit {sha!r}: {COMMIT_HELP}")
    return sha


def image_ref(repository: str, tag: str, digest: str = "") -> str:
    """The reference Kubernetes pulls: a digest tag is joined with '@', a commit tag with ':', and
    the digest of a commit tag's image follows it, pinning it: repository:tag@sha256:..."""
    if tag.startswith("sha256:"):
        return f"{repository}@{tag}"
    return f"{repository}:{tag}@{digest}" if digest else f"{repository}:{tag}"


_TOKEN = re.compile(r"[A-Za-z0-9._:@/+-]+")


def display(value: str) -> str:
    """A value from a file as a single safe token for commit subjects and trailers."""
    if value == "":
        return "none"
    return value if _TOKEN.fullmatch(value) else "invalid"
