"""The one rule for "is this name a secret" (job headers and query parameters, audit payload keys)."""

from __future__ import annotations

import re

MASK = "***"

# SPEC §6 names (Authorization, Proxy-Authorization, Cookie, or containing token/secret/key/password/auth), plus
# the spellings audit payloads use (pass, credential, signature, one-time and recovery codes): masking too much
# is harmless, too little is not.
_SECRET_NAME = re.compile(r"pass|token|secret|key|auth|cookie|credential|signature|totp|recovery", re.I)


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))
