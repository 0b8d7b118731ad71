"""Every channel kind, by name: the API's validation, the outbox's sender and the pages' choices read it."""

from __future__ import annotations

from flask import current_app

from cronmanager.alerts.kinds.base import ChannelKind, SendContext, TargetError
from cronmanager.alerts.kinds.email import EmailKind
from cronmanager.alerts.kinds.inapp import InAppKind
from cronmanager.alerts.kinds.pagerduty import PagerDutyKind
from cronmanager.alerts.kinds.slack import SlackKind
from cronmanager.alerts.kinds.webhook import WebhookKind

KINDS: dict[str, ChannelKind] = {k.name: k for k in (
    EmailKind(), WebhookKind(), SlackKind(), PagerDutyKind(), InAppKind(),
)}
NAMES: tuple[str, ...] = tuple(KINDS)


def kind_of(name: str) -> ChannelKind:
    """The kind called `name`; TargetError naming `kind` for one we do not have."""
    try:
        return KINDS[name]
    except KeyError:
        raise TargetError(f"unknown channel kind {name!r}; one of {', '.join(NAMES)}", "kind") from None


def send_context() -> SendContext:
    cfg = current_app.config
    return SendContext(smtp_url=str(cfg.get("SMTP_URL", "")),
                       smtp_from=str(cfg.get("SMTP_FROM", "cronmanager@localhost")),
                       allow_private=bool(cfg.get("ALLOW_PRIVATE_TARGETS", False)),
                       pagerduty_url=str(cfg.get("PAGERDUTY_EVENTS_URL") or "https://events.pagerduty.com/v2/enqueue"),
                       public_url=str(cfg.get("PUBLIC_URL", "")))
