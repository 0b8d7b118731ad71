"""Calendars on real processes (SPEC §21): a holiday's slots are recorded SKIPPED and make no request; under
`next_allowed` the slots of a blackout become one run right after it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cronmanager.models import utcnow
from tests.calendars.conftest import make_calendar
from tests.conftest import run_sql
from tests.helpers import create, executions
from tests.stack import wait_for


@pytest.mark.slow
def test_a_holiday_skips_with_the_reason_and_a_blackout_ends_in_one_run(app, client, owner, stack, target):
    today = utcnow().date()
    holiday = make_calendar(client, owner, name="Ops", timezone="UTC", country=None, subdivision=None, windows=[],
                            holidays=[today.isoformat(), (today + timedelta(days=1)).isoformat()])
    skipping = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/holiday",
                      calendar_id=holiday["id"])
    end = utcnow().replace(microsecond=0) + timedelta(seconds=8)
    blackout = make_calendar(client, owner, name="Deploy", timezone="UTC", country=None, subdivision=None,
                             windows=[], blackouts=[{"start": (end - timedelta(minutes=5)).isoformat(),
                                                     "end": end.isoformat()}])
    moving = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/after",
                    calendar_id=blackout["id"], calendar_policy="next_allowed")
    stack.worker()
    stack.scheduler()

    skipped = wait_for(lambda: len(executions(app, skipping["id"], status="SKIPPED")) >= 3 and
                       executions(app, skipping["id"], status="SKIPPED"), 30, message="skipped slots")
    days = {today, today + timedelta(days=1)}  # the test may run across midnight
    assert {r.error_message for r in skipped} <= {f"calendar Ops: holiday {d.isoformat()}" for d in days}
    ran = wait_for(lambda: [r for r in executions(app, moving["id"]) if r.status == "SUCCESS"
                            and r.scheduled_for > end] and executions(app, moving["id"]), 40,
                   message="runs after the blackout")
    assert min(r.scheduled_for for r in ran) == end  # the blackout's slots: one run, at its end
    assert len([r for r in ran if r.scheduled_for <= end]) == 1
    first_hit = min(h.at for h in target.hits_for("/ok/after"))
    assert first_hit >= end.timestamp()

    statuses = run_sql(app, "SELECT DISTINCT status FROM cron_executions WHERE cron_job_id = :j",
                       j=skipping["id"])
    assert [s for (s,) in statuses] == ["SKIPPED"]
    assert target.hits_for("/ok/holiday") == []  # no request for a skipped slot
