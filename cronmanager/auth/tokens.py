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
    """What a signed login token says: whose it is, which server-side session it belongs to, and (for refresh
    tokens) its place in the rotation chain."""

    user_id: str
    session_id: str
    seq: int = 0


def _serializer(kind: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"cronmanager-{kind}")


def sign_login_token(kind: str, claims: LoginClaims) -> str:
    return _serializer(kind).dumps({"uid": claims.user_id, "sid": claims.session_id, "seq": claims.seq})


class LoginTokenError(Exception):
    pass


def load_login_token(token: str, kind: str) -> LoginClaims:
    """Raises LoginTokenError with a readable reason (expired, forged, or from before sessions were server-side)."""
    max_age = current_app.config["ACCESS_TOKEN_TTL_S" if kind == "access" else "REFRESH_TOKEN_TTL_S"]
    try:
        payload = _serializer(kind).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LoginTokenError(f"{kind} token expired") from None
    except BadSignature:
        raise LoginTokenError(f"invalid {kind} token") from None
    if not isinstance(payload, dict) or "sid" not in payload:
        raise LoginTokenError(f"invalid {kind} token")
    return LoginClaims(user_id=payload["uid"], session_id=payload["sid"], seq=int(payload.get("seq", 0)))
