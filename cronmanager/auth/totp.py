"""Time-based one-time codes (RFC 6238): secrets sealed like job secrets, codes checked once per time step.

A code is accepted in the 30-second step it belongs to and one step either side (clocks drift); the step of the
last accepted code is stored, and a code of that step or an earlier one is refused, so a code seen over a
shoulder or in a log cannot be replayed. The check is one conditional UPDATE, so two parallel requests with the
same code cannot both pass.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

import pyotp
import segno
from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value

from cronmanager.extensions import dml_rowcount
from cronmanager.models import User
from cronmanager.secrets.keyring import keyring

STEP_S = 30
DIGITS = 6
DRIFT_STEPS = 1

Clock = Callable[[], float]


def now() -> float:
    """The current time in seconds; tests put a controllable clock in the `TOTP_CLOCK` setting."""
    clock: Clock = current_app.config.get("TOTP_CLOCK") or time.time
    return clock()


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's recommended length


def seal(secret: str) -> str:
    return keyring().encrypt(secret.encode()).decode()


def unseal(token: str) -> str:
    return keyring().decrypt(token.encode()).decode()


def provisioning_uri(secret: str, account: str) -> str:
    """The `otpauth://` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(
        name=account, issuer_name=current_app.config.get("TOTP_ISSUER", "Cron Manager"))


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, drawn on the server (no script, no third-party image service)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#0f172a", light="#ffffff")


def normalized(code: str | None) -> str:
    return "".join((code or "").split())


def looks_like_code(code: str | None) -> bool:
    value = normalized(code)
    return len(value) == DIGITS and value.isdigit()


def matching_step(secret: str, code: str, at: float) -> int | None:
    """The time step whose code `code` is, within the allowed drift; None when it matches none."""
    value = normalized(code)
    if not looks_like_code(value):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = int(at // STEP_S)
    for step in (current - DRIFT_STEPS, current, current + DRIFT_STEPS):
        if hmac.compare_digest(totp.generate_otp(step), value):
            return step
    return None


def accept(user: User, code: str | None) -> bool:
    """Whether `code` is a valid code of the user's secret that was not used before; marks its step used."""
    if not user.totp_secret:
        return False
    step = matching_step(unseal(user.totp_secret), code or "", now())
    if step is None:
        return False
    moved = dml_rowcount(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if moved == 1:
        set_committed_value(user, "totp_last_step", step)  # the row has it already
    return moved == 1
