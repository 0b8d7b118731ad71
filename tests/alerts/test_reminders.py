"""Reminders on a timer: an open, unacknowledged, unmuted incident is announced again every ALERT_REMINDER_S even
when no new failure arrives; the sweep is a registered system job, and two sweeps racing send it once."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.alerts.conftest import deliveries as _deliveries
from tests.alerts.conftest import incidents_of as _incidents
from tests.alerts.conftest import settled as _settled
from tests.conftest import run_sql
from tests.monitoring.conftest import make_fire, make_job, record, wait_for

REWIND = "UPDATE incidents SET last_notified_at = last_notified_at - interval '2 hours'"


def _sweep(app) -> int:
    from cronmanager.alerts.reminders import send_due_reminders

    with app.app_context():
        return send_due_reminders()


def test_an_unacknowledged_incident_is_reminded_without_new_failures(app, client, owner, receiver, integrations,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 3600)
    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack") and _settled(app))
    assert _sweep(app) == 0  # the first message went out less than ALERT_REMINDER_S ago

    run_sql(app, REWIND)
    assert _sweep(app) == 1
    wait_for(lambda: len(receiver.on("/slack")) == 2 and _settled(app))
    reminder = receiver.on("/slack")[1].json
    assert reminder["text"] == "Job 'billing' is still failing"
    assert _sweep(app) == 0  # claimed: the next one is ALERT_REMINDER_S away
    (incident,) = _incidents(client, owner, status="open")
    assert incident["reminders"] == 1 and incident["events"] == 1  # a reminder is not an event
    assert len(receiver.on("/pagerduty")) == 1  # PagerDuty escalates by itself

    from cronmanager.models import utcnow

    until = (utcnow() + timedelta(hours=1)).isoformat()
    assert client.post(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers, json={"until": until}).status_code == 200
    run_sql(app, REWIND)
    assert _sweep(app) == 0  # snoozed: nothing is sent
    assert client.delete(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers).status_code == 200
    client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=owner.headers)
    assert _sweep(app) == 0  # acknowledged: someone is on it
    assert len(receiver.on("/slack")) == 2


def test_muted_and_resolved_incidents_get_no_reminder(app, client, owner, receiver, integrations, monkeypatch):
    from cronmanager.models import utcnow

    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 60)
    muted = make_job(app, owner.id, name="muted", snoozed_until=utcnow() + timedelta(minutes=30))
    resolved = make_job(app, owner.id, name="resolved")
    record(app, [make_fire(app, muted, "FAILED", 0), make_fire(app, resolved, "FAILED", 0)])
    record(app, [make_fire(app, resolved, "SUCCESS", 1)])
    run_sql(app, "UPDATE cron_jobs SET snoozed_until = NULL")  # the snooze ended; the incident stays muted
    run_sql(app, "UPDATE incidents SET opened_at = opened_at - interval '2 hours', "
                 "last_notified_at = last_notified_at - interval '2 hours'")
    assert _sweep(app) == 0
    wait_for(lambda: _settled(app))
    assert [m.json["text"] for m in receiver.on("/slack")] == ["Job 'resolved' is failing", "Job 'resolved' recovered"]


def test_two_sweeps_racing_send_each_reminder_once(app, owner, receiver, integrations, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 60)
    jobs = [make_job(app, owner.id, name=f"job {n}") for n in range(5)]
    record(app, [make_fire(app, job_id, "FAILED", 0) for job_id in jobs])
    wait_for(lambda: len(receiver.on("/slack")) == 5 and _settled(app))
    run_sql(app, REWIND)
    start = threading.Barrier(2)
    counts: list[int] = []

    def sweep() -> None:
        start.wait()
        counts.append(_sweep(app))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(counts) == 5, counts
    wait_for(lambda: len(receiver.on("/slack")) == 10 and _settled(app))
    reminders = [d for d in _deliveries(app) if d[1] == "job.still_failing" and d[0] == "slack"]
    assert len(reminders) == 5


def test_the_reminder_sweep_is_a_registered_system_job(app, owner, receiver, integrations, monkeypatch):
    from cronmanager.execution.dispatch import delayed_scheduler
    from cronmanager.scheduling import system_jobs

    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 60)
    monkeypatch.setitem(app.config, "ALERT_SWEEP_S", 17)
    with app.app_context():
        prefix = app.config["REDIS_PREFIX"]
        scheduler = delayed_scheduler()
        ids = system_jobs.register(scheduler, prefix)
        (job,) = [j for j in scheduler.get_jobs() if j.id == f"{prefix}-system-alert-reminders-17"]
        assert job.id in ids and job.func_name == "cronmanager.alerts.reminders.send_due_reminders"
        assert job.meta["interval"] == 17 and job.origin == system_jobs.maintenance_queue_name(prefix)
    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack") and _settled(app))
    run_sql(app, REWIND)
    with app.app_context():
        assert job.func() == 1  # what the maintenance worker runs: the function behind the registration
    wait_for(lambda: len(receiver.on("/slack")) == 2)
