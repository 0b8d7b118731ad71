"""The in-app notification centre as a channel: a team's channel reaches every member, a personal one its user.

The notifications are added to the delivery's own transaction, so they are committed together with its `sent`
status: a sender that dies before the commit leaves neither, and the retry writes them once.
"""

from __future__ import annotations

from sqlalchemy import select

from cronmanager.alerts.kinds.base import ChannelKind, Message, SendContext
from cronmanager.alerts.transports import SendResult
from cronmanager.extensions import db
from cronmanager.models import Notification, TeamMember, User

TARGET = "in-app"


class InAppKind(ChannelKind):
    name = "inapp"
    label = "In-app"
    target_input, target_label = "none", "No target: the channel's user, or every member of its team"

    def validate_target(self, target: str, ctx: SendContext) -> str:
        return TARGET

    def send(self, message: Message, ctx: SendContext) -> SendResult:
        if message.team_id is not None:
            users = list(db.session.execute(select(TeamMember.user_id).where(
                TeamMember.team_id == message.team_id)).scalars())
        elif message.owner_id is not None:
            users = [message.owner_id]
        else:
            users = list(db.session.execute(select(User.id).where(User.role == "ADMIN",
                                                                  User.is_active.is_(True))).scalars())
        payload = message.payload
        job_id = (payload.get("job") or {}).get("id")
        kind = str(payload.get("event", "alert")).split(".")[-1][:32]
        for user_id in users:
            db.session.add(Notification(user_id=user_id, kind=kind, title=str(payload.get("title", ""))[:200],
                                        body=str(payload.get("text", "")), cron_job_id=job_id))
        return SendResult(True)
