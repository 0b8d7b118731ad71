"""A JSON POST signed with HMAC-SHA256 (header X-CronManager-Signature), our own document or Slack's old
`{"text"}` shape for chat tools that accept it."""

from __future__ import annotations

import secrets
from typing import Any

from cronmanager.alerts.kinds.base import ChannelKind, Message, SendContext, TargetError
from cronmanager.alerts.kinds.urls import check_alert_url
from cronmanager.alerts.transports import SendResult, send_webhook

FORMATS = ("json", "slack")


class WebhookKind(ChannelKind):
    name = "webhook"
    label = "Webhook"
    target_input, target_label, placeholder = "url", "Webhook URL", "https://hooks.example.com/cron-alerts"
    secret_config = ("secret",)

    def validate_target(self, target: str, ctx: SendContext) -> str:
        return check_alert_url(target, ctx, "A webhook URL")

    def prepare_config(self, config: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        out = dict(config)
        if out.get("format", "json") not in FORMATS:
            raise TargetError(f"format is one of {', '.join(FORMATS)}", "config.format")
        if creating:
            out.setdefault("format", "json")
            out.setdefault("secret", secrets.token_urlsafe(32))
        return out

    def send(self, message: Message, ctx: SendContext) -> SendResult:
        secret = message.config.get("secret")
        return send_webhook(message.target, message.payload, secret=str(secret) if secret else None,
                            fmt=str(message.config.get("format", "json")), allow_private=ctx.allow_private,
                            delivery_id=message.delivery_id)
