"""The one rule for "is this name a secret" (job headers and query parameters, audit payload keys)."""

from __future__ import annotations

import re

MASK = "***"

# SPEC §6 names (Authorization, Proxy-Authorization, Cookie, or containing token/secret/key/password/auth), plus
# the spellings audit payloads use (pass, credential, signature, one-time and recovery codes): masking too much
# is harmless, too little is not.
_WORDS = r"pass|token|secret|key|auth|cookie|credential|signature|totp|recovery"
_SECRET_NAME = re.compile(_WORDS, re.I)
_SECRET_LOWERED = re.compile(_WORDS)


def looks_secret(name: str) -> bool:
    """Every fire's request record asks this of each header: an ASCII name is lowered and matched plainly
    (a case-blind search was 37 k instructions a name, this 7 k); any other keeps the case-blind search, whose
    Unicode folding (U+017F long s, U+212A Kelvin sign) lowering alone would not match."""
    if name.isascii():
        return _SECRET_LOWERED.search(name.lower()) is not None
    return _SECRET_NAME.search(name) is not None
