"""OpenID Connect sign-in through Authlib's Flask client: the redirect to the provider and the verified identity
that comes back. Everything about tokens (discovery, PKCE, state, nonce, the ID token's signature against the
provider's JWKS, `iss`, `aud`, `exp`) is Authlib's; this module adds `email_verified`, the allowed domains, and
turns every way it can fail into one `SsoRefusal` with a reason for the audit trail and a message for people.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import requests

# Authlib ships no type information (its stubs live in types-Authlib, not a dependency here)
from authlib.integrations.base_client import MismatchingStateError, OAuthError  # type: ignore[import-untyped]
from authlib.integrations.flask_client import OAuth  # type: ignore[import-untyped]
from authlib.integrations.flask_client.apps import FlaskOAuth2App  # type: ignore[import-untyped]
from flask import Flask, current_app, request, session
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from werkzeug.wrappers import Response

CLIENT_NAME = "cronmanager_sso"  # also the prefix of Authlib's pending-login keys in the session cookie
_PENDING_PREFIX = f"_state_{CLIENT_NAME}_"
HTTP_TIMEOUT_S = 10


class Reason(enum.StrEnum):
    """Why a single sign-on was refused (audited as `auth.login_failed` with this reason)."""

    NOT_CONFIGURED = "not_configured"
    NO_PENDING_LOGIN = "no_pending_login"
    BAD_STATE = "bad_state"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    BAD_NONCE = "bad_nonce"
    TOKEN_EXPIRED = "token_expired"
    BAD_SIGNATURE = "bad_signature"
    INVALID_TOKEN = "invalid_token"
    EMAIL_UNVERIFIED = "email_unverified"
    DOMAIN_NOT_ALLOWED = "domain_not_allowed"
    USER_DEACTIVATED = "user_deactivated"


MESSAGES = {
    Reason.NOT_CONFIGURED: "Single sign-on is not configured on this server.",
    Reason.NO_PENDING_LOGIN: "There is no sign-in in progress in this browser; start again with “Sign in with SSO”.",
    Reason.BAD_STATE: "The sign-in answer does not belong to this browser's sign-in (state mismatch); start again.",
    Reason.PROVIDER_ERROR: "The identity provider refused the sign-in.",
    Reason.PROVIDER_UNREACHABLE: "The identity provider cannot be reached right now; try again later.",
    Reason.BAD_NONCE: "The identity provider's answer does not match this sign-in (nonce mismatch); start again.",
    Reason.TOKEN_EXPIRED: "The identity provider's ID token has expired; check the server clocks and start again.",
    Reason.BAD_SIGNATURE: "The identity provider's ID token is not signed by one of its published keys.",
    Reason.INVALID_TOKEN: "The identity provider's ID token is not valid for this application.",
    Reason.EMAIL_UNVERIFIED: "Your e-mail address is not verified at the identity provider.",
    Reason.DOMAIN_NOT_ALLOWED: "Accounts of your e-mail domain may not sign in here.",
    Reason.USER_DEACTIVATED: "Your account is deactivated; ask an administrator.",
}


class SsoRefusal(Exception):
    def __init__(self, reason: Reason, detail: str = "", email: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail[:200]  # for the audit trail: never a token or a code
        self.email = email

    @property
    def message(self) -> str:
        if self.reason is Reason.PROVIDER_ERROR and self.detail:
            return f"{MESSAGES[self.reason]} ({self.detail})"
        return MESSAGES[self.reason]


@dataclass(frozen=True)
class Identity:
    """What a verified ID token says about the person."""

    issuer: str
    subject: str
    email: str
    groups: frozenset[str]


def enabled(app: Flask | None = None) -> bool:
    cfg = (app or current_app).config
    return bool(cfg.get("OIDC_ISSUER") and cfg.get("OIDC_CLIENT_ID") and cfg.get("OIDC_CLIENT_SECRET"))


def _client() -> FlaskOAuth2App:
    """One Authlib client per app and settings; it keeps the discovery document and keys it fetched."""
    cfg = current_app.config
    key = (cfg["OIDC_ISSUER"], cfg["OIDC_CLIENT_ID"], cfg["OIDC_CLIENT_SECRET"], cfg["OIDC_SCOPES"])
    clients: dict = current_app.extensions.setdefault("cronmanager_oidc", {})
    if key not in clients:
        oauth = OAuth(current_app._get_current_object())  # type: ignore[attr-defined]  # the app behind the proxy
        clients[key] = oauth.register(
            CLIENT_NAME, client_id=cfg["OIDC_CLIENT_ID"], client_secret=cfg["OIDC_CLIENT_SECRET"],
            server_metadata_url=f"{cfg['OIDC_ISSUER']}/.well-known/openid-configuration",
            client_kwargs={"scope": cfg["OIDC_SCOPES"], "code_challenge_method": "S256",
                           "default_timeout": HTTP_TIMEOUT_S})
    return clients[key]


def redirect_uri() -> str:
    """`$PUBLIC_URL/auth/oidc/callback`, else from the request's host (behind PROXY_COUNT proxies)."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return base.rstrip("/") + "/auth/oidc/callback"


def begin() -> Response:
    """The redirect to the provider; state, nonce and the PKCE verifier wait in the signed session cookie."""
    if not enabled():
        raise SsoRefusal(Reason.NOT_CONFIGURED)
    for key in [k for k in session if k.startswith(_PENDING_PREFIX)]:
        session.pop(key)  # one sign-in at a time per browser
    try:
        return _client().authorize_redirect(redirect_uri())
    except (requests.RequestException, ValueError) as err:
        raise SsoRefusal(Reason.PROVIDER_UNREACHABLE, type(err).__name__) from None


def finish() -> Identity:
    """The verified identity from the provider's answer at the callback; SsoRefusal otherwise."""
    if not enabled():
        raise SsoRefusal(Reason.NOT_CONFIGURED)
    if request.args.get("error"):
        _clear_pending()
        raise SsoRefusal(Reason.PROVIDER_ERROR, str(request.args.get("error_description") or request.args["error"]))
    if not any(k.startswith(_PENDING_PREFIX) for k in session):
        raise SsoRefusal(Reason.NO_PENDING_LOGIN)
    try:
        token = _client().authorize_access_token()
    except MismatchingStateError:
        raise SsoRefusal(Reason.BAD_STATE) from None
    except ExpiredTokenError:
        raise SsoRefusal(Reason.TOKEN_EXPIRED) from None
    except ClaimError as err:
        reason = Reason.BAD_NONCE if err.claim == "nonce" else Reason.INVALID_TOKEN
        raise SsoRefusal(reason, f"claim {err.claim}") from None
    except BadSignatureError:
        raise SsoRefusal(Reason.BAD_SIGNATURE) from None
    except JoseError as err:
        raise SsoRefusal(Reason.INVALID_TOKEN, err.error) from None
    except OAuthError as err:
        raise SsoRefusal(Reason.PROVIDER_ERROR, str(err.error or "")) from None
    except (requests.RequestException, ValueError) as err:
        raise SsoRefusal(Reason.PROVIDER_UNREACHABLE, type(err).__name__) from None
    finally:
        _clear_pending()
    claims = token.get("userinfo")
    if not claims:
        raise SsoRefusal(Reason.INVALID_TOKEN, "no ID token in the token response")
    return _identity(dict(claims))


def _clear_pending() -> None:
    for key in [k for k in session if k.startswith(_PENDING_PREFIX)]:
        session.pop(key)


def _identity(claims: dict) -> Identity:
    cfg = current_app.config
    email = str(claims.get("email") or "").strip().lower()
    if not email or "@" not in email:
        raise SsoRefusal(Reason.INVALID_TOKEN, "no email claim (add the `email` scope)")
    # Entra ID says it as `xms_edov` (the e-mail domain's owner verified it) and sends no email_verified
    if claims.get("email_verified") is not True and claims.get("xms_edov") is not True:
        raise SsoRefusal(Reason.EMAIL_UNVERIFIED, email=email)
    domain = email.rsplit("@", 1)[1]
    allowed = cfg.get("OIDC_ALLOWED_DOMAINS") or []
    if allowed and domain not in allowed:
        raise SsoRefusal(Reason.DOMAIN_NOT_ALLOWED, domain, email=email)
    raw_groups = claims.get(cfg.get("OIDC_GROUPS_CLAIM") or "groups") or []
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    groups = frozenset(str(g).strip().lstrip("/") for g in raw_groups if str(g).strip())
    return Identity(issuer=str(claims["iss"]), subject=str(claims["sub"]), email=email, groups=groups)
