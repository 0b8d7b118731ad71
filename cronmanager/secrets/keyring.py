"""Fernet keys from `ENCRYPTION_KEY` (comma-separated, the first encrypts), or one derived from SECRET_KEY."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def derived_key(secret_key: str) -> str:
    """A Fernet key from SECRET_KEY (HKDF-SHA256), so installs without ENCRYPTION_KEY still encrypt."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cronmanager-secrets", info=b"fernet").derive(
        secret_key.encode())
    return base64.urlsafe_b64encode(raw).decode()


@functools.lru_cache(maxsize=8)
def _multi(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def keyring(config: Mapping[str, Any] | None = None) -> MultiFernet:
    """Every configured key can decrypt; the first one encrypts (rotation: put the new key first).

    The key derived from SECRET_KEY always decrypts last, so setting ENCRYPTION_KEY on an install that ran
    without it only needs `flask secrets rotate`.
    """
    cfg = config if config is not None else current_app.config
    return _multi((*(cfg.get("ENCRYPTION_KEYS") or ()), derived_key(cfg["SECRET_KEY"])))
