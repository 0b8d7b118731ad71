"""Fingerprints of the encryption keys, and which of them the stored secrets need.

A fingerprint is a truncated SHA-256 of the key under a label of its own: enough to tell keys apart in a manifest
and an error message, useless for recovering the key. The keys are never written or printed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import CronJob, User
from cronmanager.secrets.keyring import derived_key, keyring

_LABEL = b"cronmanager key fingerprint\0"


def fingerprint(key: str) -> str:
    return hashlib.sha256(_LABEL + key.encode()).hexdigest()[:16]


def configured_keys(config: Mapping[str, Any]) -> list[str]:
    """The keys in the order the keyring (cronmanager.secrets.keyring) tries them: ENCRYPTION_KEY's, then the one
    derived from SECRET_KEY."""
    return [*(config.get("ENCRYPTION_KEYS") or ()), derived_key(config["SECRET_KEY"])]


def configured_fingerprints(config: Mapping[str, Any]) -> list[str]:
    return [fingerprint(k) for k in configured_keys(config)]


def _sealed_values() -> Iterable[str]:
    for column in (CronJob.sealed_secrets, User.totp_secret):
        for token in db.session.execute(select(column).where(column.is_not(None)).execution_options(yield_per=500)):
            yield str(token[0])


def keys_in_use(config: Mapping[str, Any]) -> list[str]:
    """Fingerprints of the configured keys that opened at least one stored secret.

    A value no configured key opens is already unreadable by the running service; it adds no key to the list.
    """
    fernets = [(fingerprint(k), Fernet(k.encode())) for k in configured_keys(config)]
    used: set[str] = set()
    for token in _sealed_values():
        for name, fernet in fernets:
            try:
                fernet.decrypt(token.encode())
            except InvalidToken:
                continue
            used.add(name)
            break
    return [name for name, _ in fernets if name in used]


def missing_keys(needed: list[str], config: Mapping[str, Any]) -> list[str]:
    have = set(configured_fingerprints(config))
    return [name for name in needed if name not in have]


def secrets_open(config: Mapping[str, Any]) -> bool:
    """The configured keyring opens the stored secrets (one of each kind is tried; True when there are none)."""
    ring = keyring(config)
    for column in (CronJob.sealed_secrets, User.totp_secret):
        token = db.session.execute(select(column).where(column.is_not(None)).limit(1)).scalar()
        if token is None:
            continue
        try:
            ring.decrypt(token.encode())
        except InvalidToken:
            return False
    return True
