"""E-mail through the configured SMTP server (SMTP_URL), one address per channel."""

from __future__ import annotations

import re

from cronmanager.alerts.kinds.base import ChannelKind, Message, SendContext, TargetError
from cronmanager.alerts.transports import SendResult, send_email

# one address: a local part and a domain, nothing that could list a second recipient or inject a header
ONE_ADDRESS = re.compile(r"[^@\s,;<>()\[\]\"']+@[^@\s,;<>()\[\]\"']+")


class EmailKind(ChannelKind):
    name = "email"
    label = "E-mail"
    target_input, target_label, placeholder = "email", "E-mail address", "oncall@example.com"

    def validate_target(self, target: str, ctx: SendContext) -> str:
        target = target.strip()
        if not ONE_ADDRESS.fullmatch(target):
            raise TargetError("An e-mail channel takes exactly one address such as ops@example.com")
        return target

    def send(self, message: Message, ctx: SendContext) -> SendResult:
        payload = message.payload
        return send_email(ctx.smtp_url, ctx.smtp_from, message.target, payload.get("title", "Cron Manager alert"),
                          email_text(payload, message.possible_duplicate))


def email_text(payload: dict, possible_duplicate: bool = False) -> str:
    lines = [payload.get("text", "")]
    if possible_duplicate:
        lines += ["", "(Sent again after an interrupted delivery: you may have received this message already.)"]
    job = payload.get("job") or {}
    if job:
        lines += ["", f"Job: {job.get('name')} ({job.get('id')})"]
    execution = payload.get("execution") or {}
    if execution:
        lines.append(f"Execution: {execution.get('id')} status {execution.get('status')}"
                     f" HTTP {execution.get('response_status')}")
    if payload.get("url"):
        lines.append(str(payload["url"]))
    return "\n".join(lines) + "\n\n-- Cron Manager\n"
