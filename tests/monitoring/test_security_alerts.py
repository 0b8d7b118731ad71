"""Security events reach admins in-app, once per subject within the throttle window."""

from __future__ import annotations

from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import Notification
from tests.conftest import bearer, make_token
from tests.stack import wait_for


def _security_notes(app, user_id: str) -> list[Notification]:
    with app.app_context():
        rows = db.session.execute(select(Notification).where(Notification.user_id == user_id,
                                                             Notification.kind == "security")).scalars().all()
        db.session.remove()
        return rows


def test_it_tells_admins_when_a_revoked_token_is_used_and_throttles_repeats(app, client, admin, owner):
    token = make_token(client, owner, ["read"])
    token_id = client.get("/api/v1/auth/tokens", headers=owner.headers).get_json()["items"][0]["id"]
    client.delete(f"/api/v1/auth/tokens/{token_id}", headers=owner.headers)
    for _ in range(3):
        assert client.get("/api/v1/cron", headers=bearer(token)).status_code == 401
    notes = wait_for(lambda: _security_notes(app, admin.id), 10, message="admin notified")
    assert len(notes) == 1 and "revoked" in notes[0].title
    assert _security_notes(app, owner.id) == []  # only admins get security notices
