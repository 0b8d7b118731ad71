"""Slack incoming webhooks: one Block Kit message per alert (header, what happened, the job's facts, a link).

The webhook URL is the credential (anyone holding it may post to the channel), so the API shows it masked.
"""

from __future__ import annotations

import json
from typing import Any

from cronmanager.alerts.kinds.base import Action, ChannelKind, Message, SendContext
from cronmanager.alerts.kinds.urls import check_alert_url
from cronmanager.alerts.transports import SEND_TIMEOUT_S, SendResult

ICONS = {Action.TRIGGER: ":red_circle:", Action.REMIND: ":bell:", Action.UPDATE: ":warning:",
         Action.RESOLVE: ":large_green_circle:", Action.NOTE: ":information_source:"}
MAX_TEXT = 2900  # Slack refuses a text object over 3000 characters
REPEAT_NOTE = ("Sent again after an interrupted delivery: if you already saw this message, this is the same one "
               "(Slack has no way to drop a repeat).")


class SlackKind(ChannelKind):
    name = "slack"
    label = "Slack"
    target_input, target_label, placeholder = "url", "Incoming-webhook URL", "https://hooks.slack.com/services/…"
    secret_target = True

    def validate_target(self, target: str, ctx: SendContext) -> str:
        return check_alert_url(target, ctx, "A Slack incoming-webhook URL")

    def send(self, message: Message, ctx: SendContext) -> SendResult:
        from cronmanager.execution.perform import client

        body = json.dumps(slack_message(message.payload, message.action, message.possible_duplicate),
                          separators=(",", ":"))
        result = client(ctx.allow_private).request("POST", message.target, headers={
            "Content-Type": "application/json"}, body=body, timeout_s=SEND_TIMEOUT_S)
        if result.ok:
            return SendResult(True)
        return SendResult(False, result.error or f"HTTP {result.status_code}", transient=result.transient)


def slack_message(payload: dict[str, Any], action: Action, possible_duplicate: bool = False) -> dict[str, Any]:
    title = str(payload.get("title") or "Cron Manager")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{ICONS[action]} {payload.get('text') or title}"
                                     [:MAX_TEXT]}},
    ]
    job, execution = payload.get("job") or {}, payload.get("execution") or {}
    fields = []
    if job:
        fields.append(_field("Job", f"<{payload['url']}|{job.get('name')}>" if payload.get("url") else job.get("name")))
    if execution:
        fields.append(_field("Status", f"{execution.get('status')}"
                             + (f" (HTTP {execution['response_status']})" if execution.get("response_status") else "")))
        if execution.get("error"):
            fields.append(_field("Error", str(execution["error"])[:500]))
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if payload.get("url"):
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Cron Manager"}, "url": payload["url"]}]})
    incident = payload.get("incident") or {}
    context = " · ".join(x for x in (f"incident {incident['id']}" if incident.get("id") else "",
                                     str(payload.get("ts") or "")) if x)
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if possible_duplicate:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": REPEAT_NOTE}]})
    return {"text": title, "blocks": blocks}


def _field(name: str, value: object) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{name}*\n{value}"[:MAX_TEXT]}
