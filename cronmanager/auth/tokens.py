"""API tokens (long-lived, hashed at rest) and signed login tokens (short-lived access, 7-day refresh)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

API_TOKEN_PREFIX = "tasker_"
PREFIX_SHOWN = 12


def generate_api_token() -> str:
    """`tasker_` + 43 url-safe characters (256 bits)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Keyed SHA-256: tokens are random enough that a slow KDF adds nothing but latency on every call."""
    salt = current_app.config["TOKEN_SALT"].encode()
    return hmac.new(salt, token.encode(), hashlib.sha256).hexdigest()


def ip_allowed(ip: str | None, allowlist: list[str]) -> bool:
    if not allowlist:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowlist)


def normalise_cidrs(values: list[str]) -> list[str]:
    """Raises ValueError naming the bad entry."""
    result = []
    for value in values:
        try:
            result.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
    return result


@dataclass(frozen=True)
class LoginClaims:
    user_id: str
    kind: str


def _serializer(kind: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"cronmanager-{kind}")


def issue_login_tokens(user_id: str, password_hash: str) -> dict:
    """The login response body; tokens carry a fingerprint of the password hash so a password change revokes them."""
    fingerprint = hashlib.sha256(password_hash.encode()).hexdigest()[:16]
    payload = {"uid": user_id, "pf": fingerprint, "n": secrets.token_hex(4)}
    return {
        "access_token": _serializer("access").dumps(payload),
        "refresh_token": _serializer("refresh").dumps(payload),
        "token_type": "Bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_TTL_S"],
    }


class LoginTokenError(Exception):
    pass


def load_login_token(token: str, kind: str) -> tuple[str, str]:
    """Returns (user_id, password fingerprint); raises LoginTokenError with a readable reason."""
    max_age = current_app.config["ACCESS_TOKEN_TTL_S" if kind == "access" else "REFRESH_TOKEN_TTL_S"]
    try:
        payload = _serializer(kind).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LoginTokenError(f"{kind} token expired") from None
    except BadSignature:
        raise LoginTokenError(f"invalid {kind} token") from None
    return payload["uid"], payload["pf"]


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
