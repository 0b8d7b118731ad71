"""The rule for URLs that receive alerts: https, or plain http to a private address while private targets are
allowed (tests and closed networks). Checked when a channel is saved; the guarded client checks again on send."""

from __future__ import annotations

from urllib.parse import urlsplit

from cronmanager.alerts.kinds.base import SendContext, TargetError
from cronmanager.execution.outcome import ErrorClass
from cronmanager.execution.ssrf import TargetRefused, check_url


def check_alert_url(url: str, ctx: SendContext, what: str) -> str:
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        raise TargetError(f"{what} is not a valid URL") from None
    if scheme not in ("http", "https"):
        raise TargetError(f"{what} must be an https URL")
    try:
        check_url(url, allow_private=ctx.allow_private)
    except TargetRefused as err:
        raise TargetError(str(err)) from None
    if scheme == "http" and _is_public(url):
        raise TargetError(f"{what} must use https (plain http is accepted only for a private address while "
                          "ALLOW_PRIVATE_TARGETS is on)")
    return url


def _is_public(url: str) -> bool:
    try:
        check_url(url, allow_private=False)
    except TargetRefused as err:
        return err.error_class != ErrorClass.SSRF
    return True
