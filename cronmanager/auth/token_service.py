"""Issuing API tokens, the one way for the API, the tokens page and the teams' service accounts: validation,
the per-owner cap, the rule that a credential never mints a token broader than itself, and a token's JSON.

Primitives (generating, hashing, address checks) are in `auth/tokens.py`; this module needs the database and the
caps, which `auth/tokens.py` must not (the API's authentication imports it).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from cronmanager.auth import tokens
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import quotas
from cronmanager.models import ApiToken, User, utcnow

if TYPE_CHECKING:
    from cronmanager.auth.schemas import TokenJson


def token_json(token: ApiToken, raw: str | None = None) -> TokenJson:
    data: TokenJson = {
        "id": token.id, "name": token.name, "prefix": token.prefix, "scopes": token.scopes,
        "expires_at": token.expires_at, "created_at": token.created_at, "last_used_at": token.last_used_at,
        "last_used_ip": token.last_used_ip, "ip_allowlist": token.ip_allowlist or [],
        "is_active": token.is_active and token.revoked_at is None, "revoked_at": token.revoked_at,
    }
    if raw is not None:
        data["token"] = raw
    return data


def new_token(user: User, name: str, scopes: list[str], expires_at, ip_allowlist: list[str],
              team_id: str | None = None) -> tuple[ApiToken, str]:
    """Shared by the API, the tokens page and the teams (a service account: `team_id`, created by `user`):
    validates, stores the hash only, returns the raw token once."""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ApiError(422, "expires_at needs a timezone (e.g. ends in Z)", fields={"expires_at": "naive"})
        if expires_at <= utcnow():
            raise ApiError(422, "expires_at must be in the future", fields={"expires_at": "in the past"})
    try:
        cidrs = tokens.normalise_cidrs(ip_allowlist)
    except ValueError as err:
        raise ApiError(422, str(err), fields={"ip_allowlist": str(err)}) from None
    quotas.ensure_room(quotas.TOKENS, team_id or user.id, team=team_id is not None)
    raw = tokens.generate_api_token()
    token = ApiToken(user_id=user.id, name=name.strip(), token_hash=tokens.hash_token(raw),
                     prefix=raw[: tokens.PREFIX_SHOWN], scopes=sorted(set(scopes)), expires_at=expires_at,
                     ip_allowlist=cidrs, team_id=team_id)
    db.session.add(token)
    db.session.flush()
    return token, raw


def refuse_broader_token(p: Principal, scopes: list[str], expires_at, ip_allowlist: list[str]) -> None:
    """A credential never mints a token that can do more than itself: no extra scope, no later expiry, no wider
    IP allowlist than the API token making the call (403 naming the field)."""
    beyond = sorted(set(scopes) - p.scopes)
    if beyond:
        raise ApiError(403, f"You cannot grant scopes you do not hold: {', '.join(beyond)}",
                       fields={"scopes": "exceeds your own"})
    own = p.token
    if own is None:
        return
    if own.expires_at is not None and (expires_at is None or expires_at > own.expires_at):
        raise ApiError(403, "A token cannot create a token that outlives it", fields={"expires_at": "exceeds your own"})
    if own.ip_allowlist:
        try:
            wanted = [ipaddress.ip_network(c, strict=False) for c in tokens.normalise_cidrs(ip_allowlist)]
        except ValueError as err:
            raise ApiError(422, str(err), fields={"ip_allowlist": str(err)}) from None
        mine = [ipaddress.ip_network(c, strict=False) for c in own.ip_allowlist]
        if not wanted or not all(any(_within(net, allowed) for allowed in mine) for net in wanted):
            raise ApiError(403, "A token cannot create a token usable from more addresses than its own allowlist",
                           fields={"ip_allowlist": "exceeds your own"})


def _within(net: ipaddress.IPv4Network | ipaddress.IPv6Network,
            allowed: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if isinstance(net, ipaddress.IPv4Network) and isinstance(allowed, ipaddress.IPv4Network):
        return net.subnet_of(allowed)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(allowed, ipaddress.IPv6Network):
        return net.subnet_of(allowed)
    return False  # an IPv4 network is never within an IPv6 one, nor the reverse
