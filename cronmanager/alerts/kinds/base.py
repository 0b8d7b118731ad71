"""What every channel kind is: a class that checks its target, sends one message and writes a test message.

A kind never raises for network trouble: `send` returns a SendResult whose `transient` flag says whether the
outbox should try again later (cronmanager.alerts.delivery).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cronmanager.alerts.transports import SendResult


class TargetError(ValueError):
    """A channel target (or config value) that this kind refuses; `field` names what to fix."""

    def __init__(self, message: str, field: str = "target") -> None:
        super().__init__(message)
        self.field = field


class Action(enum.StrEnum):
    """Where a message stands in its incident's life: PagerDuty maps these to `event_action`."""

    TRIGGER = "trigger"
    REMIND = "remind"
    UPDATE = "update"  # news about an open incident (the job was disabled): not a new page
    RESOLVE = "resolve"
    NOTE = "note"  # not about an incident: a test, a channel or security notice


@dataclass(frozen=True)
class SendContext:
    """The settings a send needs, read once from the app config so kinds stay framework-free."""

    smtp_url: str = ""
    smtp_from: str = "cronmanager@localhost"
    allow_private: bool = False
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    public_url: str = ""


@dataclass(frozen=True)
class Message:
    """One message for one channel: the alert payload as queued in the outbox plus where it goes."""

    target: str
    payload: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    delivery_id: int | None = None
    owner_id: str | None = None  # the channel's user (in-app)
    team_id: str | None = None  # the channel's team (in-app)
    # sent again after its sender died mid-attempt: the receiver may have accepted the earlier attempt
    possible_duplicate: bool = False

    @property
    def action(self) -> Action:
        incident = self.payload.get("incident") or {}
        return Action(incident.get("action", Action.NOTE))


class ChannelKind(ABC):
    """One integration. Subclasses set `name` and `label` and add one line to the registry."""

    name: ClassVar[str]
    label: ClassVar[str]
    secret_target: ClassVar[bool] = False  # the target itself is a credential (a Slack URL, a routing key)
    # how the dashboard asks for the target: an input type ("email", "url", "text", or "none" for no target)
    target_input: ClassVar[str] = "text"
    target_label: ClassVar[str] = "Target"
    placeholder: ClassVar[str] = ""
    secret_config: ClassVar[tuple[str, ...]] = ()  # config keys shown masked

    @abstractmethod
    def validate_target(self, target: str, ctx: SendContext) -> str:
        """The target, normalised; raises TargetError naming the field."""

    def prepare_config(self, config: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        """The config to store; kinds with generated secrets add them when the channel is created."""
        return dict(config)

    def wants(self, action: Action) -> bool:
        """False for messages this kind has no use for (PagerDuty escalates by itself: no reminders)."""
        return True

    @abstractmethod
    def send(self, message: Message, ctx: SendContext) -> SendResult:
        """Deliver one message; never raises for the far side's trouble."""

    def test_payload(self, channel_name: str, sent_by: str) -> dict[str, Any]:
        return {"event": "test", "title": "Cron Manager test alert",
                "text": f"Test message for channel '{channel_name}', sent by {sent_by}.", "severity": "info"}

    def masked_target(self, target: str) -> str:
        return mask(target) if self.secret_target else target


def mask(value: str, keep: int = 4) -> str:
    """A secret as the API shows it: its first characters and an ellipsis."""
    return value[:keep] + "…" if value else value
