"""Offboarding end to end (SPEC §6): a deactivated user's jobs keep firing on the real scheduler and worker, and
keep firing after an admin hands them to someone else."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cronmanager.extensions import db
from cronmanager.models import CronExecution
from tests.conftest import bearer, make_token
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def _fired(app, job_id: str) -> int:
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(CronExecution).where(
            CronExecution.cron_job_id == job_id, CronExecution.status == "SUCCESS")).scalar_one()
        db.session.remove()
        return n


def test_a_deactivated_users_job_keeps_firing_and_an_admin_takes_it_over(app, client, admin, owner, target, stack):
    token = make_token(client, owner, ["read", "write"])
    job = client.post("/api/v1/cron", json={"name": "leaver's job", "cron_expression": "* * * * * *",
                                            "endpoint_url": f"{target.url}/echo/leaver"}, headers=bearer(token))
    assert job.status_code == 201
    job_id = job.get_json()["id"]
    stack.worker()
    stack.scheduler()
    wait_for(lambda: _fired(app, job_id) >= 1, 20, message="the first fire")

    deactivated = client.patch(f"/api/v1/users/{owner.id}", json={"is_active": False}, headers=admin.headers)
    assert deactivated.status_code == 200
    assert client.get(f"/api/v1/cron/{job_id}", headers=bearer(token)).status_code == 401
    before = _fired(app, job_id)
    wait_for(lambda: _fired(app, job_id) >= before + 2, 15, message="fires after deactivation")

    moved = client.patch(f"/api/v1/cron/{job_id}", json={"owner_id": admin.id}, headers=admin.headers)
    assert moved.status_code == 200 and moved.get_json()["owner_id"] == admin.id
    before = _fired(app, job_id)
    wait_for(lambda: _fired(app, job_id) >= before + 2, 15, message="fires after the hand-over")
    assert all(h.headers["X-CronManager-Job"] == job_id for h in target.hits_for("/echo/leaver"))
