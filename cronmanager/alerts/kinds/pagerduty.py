"""PagerDuty Events API v2: `trigger` when an incident opens, `resolve` when it closes, both with the incident id
as `dedup_key`, so PagerDuty's incident follows ours. Nothing else is sent: PagerDuty escalates by itself (no
reminders), the open incident already pages (no updates), and notices do not page. A channel's test message is a
trigger followed by its resolve.

The endpoint is PAGERDUTY_EVENTS_URL (the EU service region has its own; tests point it at a local receiver).
The routing key is an integration credential, shown masked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cronmanager.alerts.kinds.base import Action, ChannelKind, Message, SendContext, TargetError
from cronmanager.alerts.transports import SEND_TIMEOUT_S, SendResult

ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")
SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


class PagerDutyKind(ChannelKind):
    name = "pagerduty"
    label = "PagerDuty"
    target_input, target_label, placeholder = "text", "Routing key (Events API v2)", "32 letters and digits"
    secret_target = True

    def validate_target(self, target: str, ctx: SendContext) -> str:
        target = target.strip()
        if not ROUTING_KEY.fullmatch(target):
            raise TargetError("A PagerDuty Events API v2 routing key is 32 letters and digits")
        return target

    def wants(self, action: Action) -> bool:
        """Incidents only: their trigger and resolve (notices such as a rules change do not page anyone)."""
        return action in (Action.TRIGGER, Action.RESOLVE)

    def send(self, message: Message, ctx: SendContext) -> SendResult:
        from cronmanager.execution.perform import client

        events = pagerduty_events(message, ctx)
        for event in events:
            # the endpoint is the operator's setting, not user input: a private address is allowed
            result = client(True).request("POST", ctx.pagerduty_url, headers={"Content-Type": "application/json"},
                                          body=json.dumps(event, separators=(",", ":")), timeout_s=SEND_TIMEOUT_S)
            if not result.ok:
                return SendResult(False, result.error or f"HTTP {result.status_code}", transient=result.transient)
        return SendResult(True)


def pagerduty_events(message: Message, ctx: SendContext) -> list[dict[str, Any]]:
    """The events to post: one for an incident's trigger or resolve; a test or notice is a trigger followed by
    its resolve, so a test leaves nothing open in PagerDuty."""
    payload = message.payload
    incident = payload.get("incident") or {}
    action = message.action
    dedup_key = str(incident.get("id") or f"cronmanager-{payload.get('event', 'note')}-{message.delivery_id}")
    if action == Action.RESOLVE:
        return [{"routing_key": message.target, "event_action": "resolve", "dedup_key": dedup_key}]
    job = payload.get("job") or {}
    trigger: dict[str, Any] = {
        "routing_key": message.target, "event_action": "trigger", "dedup_key": dedup_key,
        "payload": {
            "summary": str(payload.get("title") or "Cron Manager alert")[:1024],
            "source": str(job.get("endpoint_url") or job.get("name") or "cronmanager")[:255],
            "severity": SEVERITIES.get(str(payload.get("severity") or incident.get("severity")), "error"),
            "timestamp": payload.get("ts"),
            "component": job.get("name"),
            "group": "cronmanager",
            "class": payload.get("event"),
            "custom_details": {"text": payload.get("text"), "execution": payload.get("execution")},
        },
        "client": "Cron Manager",
    }
    if payload.get("url"):
        trigger["links"] = [{"href": payload["url"], "text": "Open in Cron Manager"}]
        trigger["client_url"] = payload["url"]
    if action == Action.NOTE:
        return [trigger, {"routing_key": message.target, "event_action": "resolve", "dedup_key": dedup_key}]
    return [trigger]
