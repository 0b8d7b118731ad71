"""Secrets never reach the audit trail or the logs."""

from __future__ import annotations

import re

SECRET_KEY_RE = re.compile(r"pass|token|secret|key|authorization|auth|cookie|credential|signature", re.I)
MASK = "***"


def looks_secret(name: str) -> bool:
    return bool(SECRET_KEY_RE.search(name))


def redact(value: object, depth: int = 0) -> object:
    """Mask values under secret-looking keys, recursively (job headers included)."""
    if depth > 8:
        return MASK
    if isinstance(value, dict):
        return {k: (MASK if looks_secret(str(k)) and v not in (None, "") else redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value[:100]]
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + "…"
    return value
