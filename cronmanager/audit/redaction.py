"""Secrets never reach the audit trail or the logs."""

from __future__ import annotations

from cronmanager.secrets.fields import split_url
from cronmanager.secrets.names import MASK, looks_secret


def redact(value: object, depth: int = 0) -> object:
    """Mask values under secret-looking keys, recursively (job headers included), and secrets inside URLs."""
    if depth > 8:
        return MASK
    if isinstance(value, dict):
        return {k: (MASK if looks_secret(str(k)) and v not in (None, "") else redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value[:100]]
    if isinstance(value, str) and "://" in value:
        value = split_url(value)[0]
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + "…"
    return value
