"""A stack file's secret settings in a preview.

A `secure:` value is encrypted with the stack's own secrets provider, which a pull request's
preview never has. Each side sets every secret key it declares to a fixed placeholder instead;
where the ciphertexts of base and head differ (or only one side declares the key), the head's
placeholder differs from the base's, so Pulumi shows each resource the secret feeds as changed,
with `[secret]` for its value. A ciphertext changes when a secret is set again even to the same
value, so a different ciphertext reads as "changed": nothing more can be known without the key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Placeholders, never a real secret: the engine marks them secret, so they show as [secret].
BASE_PLACEHOLDER = "preview-placeholder-base"
CHANGED_PLACEHOLDER = "preview-placeholder-changed"
PLACEHOLDERS = (BASE_PLACEHOLDER, CHANGED_PLACEHOLDER)


def is_secure(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def ciphertexts(config: Optional[dict]) -> dict[str, str]:
    """The secret keys of a stack file's config block and their ciphertexts."""
    return {key: str(value["secure"]) for key, value in (config or {}).items() if is_secure(value)}


@dataclass(frozen=True)
class SecretPlan:
    base: dict[str, str]     # key -> placeholder the base sets
    head: dict[str, str]     # key -> placeholder the head sets
    changed: tuple[str, ...]  # keys whose ciphertext differs, or that one side only declares


def plan_secrets(base_config: Optional[dict], head_config: Optional[dict]) -> SecretPlan:
    base, head = ciphertexts(base_config), ciphertexts(head_config)
    changed = tuple(sorted(key for key in set(base) | set(head) if base.get(key) != head.get(key)))
    return SecretPlan(
        base={key: BASE_PLACEHOLDER for key in base},
        head={key: CHANGED_PLACEHOLDER if key in changed else BASE_PLACEHOLDER for key in head},
        changed=changed,
    )
