"""The second factor of an account: enrolment, confirmation, the check at login, disabling and resetting.

Shared by the API (`/auth/2fa`), the Settings → Security page and both login paths, so the rules live once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app

from cronmanager.auth import recovery, totp
from cronmanager.auth.users import has_password, verify_password
from cronmanager.errors import ApiError
from cronmanager.models import Role, User, utcnow


class Factor(enum.StrEnum):
    """What a login presented as its second factor."""

    NOT_ENROLLED = "not_enrolled"  # the account has none: the password is enough
    MISSING = "missing"
    ACCEPTED = "accepted"
    WRONG = "wrong"  # counts toward the lockout like a wrong password


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str

    def qr_svg(self) -> str:
        return totp.qr_svg(self.otpauth_uri)


def enrolled(user: User) -> bool:
    return bool(user.totp_enabled and user.totp_secret)


def _enrollment(user: User, secret: str) -> Enrollment:
    return Enrollment(secret=secret, otpauth_uri=totp.provisioning_uri(secret, user.email))


def start_enrollment(user: User) -> Enrollment:
    """A new secret, not active until a code from it is confirmed. The caller commits."""
    if enrolled(user):
        raise ApiError(409, "Two-factor authentication is already on; disable it first to enrol a new device")
    secret = totp.new_secret()
    user.totp_secret = totp.seal(secret)
    user.totp_last_step = None
    user.updated_at = utcnow()
    return _enrollment(user, secret)


def pending_enrollment(user: User) -> Enrollment | None:
    """The enrolment started but not confirmed yet (the Security page shows its QR code again)."""
    if enrolled(user) or not user.totp_secret:
        return None
    return _enrollment(user, totp.unseal(user.totp_secret))


def confirm(user: User, code: str) -> list[str]:
    """Turn the factor on with a code from the new secret; the ten recovery codes, to show once."""
    if enrolled(user):
        raise ApiError(409, "Two-factor authentication is already on")
    if not user.totp_secret:
        raise ApiError(409, "Start the enrolment first (POST /api/v1/auth/2fa/enroll)")
    if not totp.looks_like_code(code):
        raise ApiError(422, "totp: enter the 6-digit code from your authenticator app",
                       fields={"totp": "must be 6 digits"})
    if not totp.accept(user, code):
        raise ApiError(422, "totp: wrong code; check your device's clock and try the current code",
                       fields={"totp": "wrong code"})
    user.totp_enabled = True
    user.updated_at = utcnow()
    return recovery.replace_codes(user)


def disable(user: User, password: str, code: str) -> None:
    """Turn the factor off: the password and a current code (or a recovery code) are both needed."""
    if not enrolled(user):
        raise ApiError(409, "Two-factor authentication is not on")
    if not verify_password(user, password):
        raise ApiError(422, "password: that is not your password", fields={"password": "wrong password"})
    if not (totp.accept(user, code) or recovery.consume(user, code)):
        raise ApiError(422, "totp: wrong or already used code", fields={"totp": "wrong or already used code"})
    clear(user)


def clear(user: User) -> None:
    """Remove the factor and its recovery codes (disable, or an administrator's reset). The caller commits."""
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    user.updated_at = utcnow()
    recovery.clear(user)


def check_login(user: User, code: str | None, recovery_code: str | None) -> Factor:
    """The second step of a password login, after the password was found right."""
    if not enrolled(user):
        return Factor.NOT_ENROLLED
    if not (code or recovery_code):
        return Factor.MISSING
    if code and totp.accept(user, code):
        return Factor.ACCEPTED
    if recovery_code and recovery.consume(user, recovery_code):
        return Factor.ACCEPTED
    return Factor.WRONG


def enrollment_required(user: User, via_sso: bool = False) -> bool:
    """REQUIRE_2FA: whether this user must enrol before doing anything else. Single sign-on relies on the
    provider's own MFA, so a session started through it, or an account with no password, is out of scope."""
    scope = current_app.config.get("REQUIRE_2FA", "off")
    if scope == "off" or via_sso or enrolled(user) or not has_password(user):
        return False
    return scope == "all" or user.role == Role.ADMIN.value
