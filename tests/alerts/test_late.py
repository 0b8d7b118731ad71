"""The `late` policy: a run that starts too long after its slot, and slots recorded MISSED, open an incident."""

from __future__ import annotations

from datetime import timedelta

from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def _open(client, persona) -> list[dict]:
    return client.get("/api/v1/incidents?status=open", headers=persona.headers).get_json()["items"]


def test_a_run_that_starts_late_opens_an_incident_and_an_on_time_one_resolves_it(app, client, owner, receiver,
                                                                                integrations):
    job_id = make_job(app, owner.id, alert_on=["late"], late_after_s=60)
    on_time = make_fire(app, job_id, "SUCCESS", 0)
    record(app, [on_time])
    assert _open(client, owner) == []
    late = make_fire(app, job_id, "SUCCESS", 1)
    late.started_at = late.scheduled_for + timedelta(seconds=150)
    record(app, [late])
    (incident,) = _open(client, owner)
    assert incident["kind"] == "late" and incident["severity"] == "warning"
    assert "150 s after its slot" in incident["summary"]
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pagerduty"))  # sent by separate sender threads
    assert receiver.on("/slack")[0].json["text"] == "Job 'billing' is failing"
    assert receiver.on("/pagerduty")[0].json["payload"]["severity"] == "warning"
    record(app, [make_fire(app, job_id, "SUCCESS", 2)])
    assert _open(client, owner) == []
    wait_for(lambda: len(receiver.on("/slack")) == 2)


def test_missed_slots_alert_only_the_jobs_that_watch_for_them(app, client, owner, receiver, integrations):
    from cronmanager.alerts.late import check_missed
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, utcnow

    watching = make_job(app, owner.id, name="watching", alert_on=["late", "exhausted"])
    ignoring = make_job(app, owner.id, name="ignoring")
    with app.app_context():
        assert check_missed() == 0  # the first run starts from the present
        slot = utcnow().replace(microsecond=0) - timedelta(minutes=5)
        for job_id in (watching, ignoring):
            for k in range(2):
                db.session.add(CronExecution(cron_job_id=job_id, scheduled_for=slot + timedelta(minutes=k),
                                             due_at=slot + timedelta(minutes=k), trigger="schedule",
                                             attempt_number=1, status="MISSED", completed_at=utcnow()))
        db.session.commit()
        assert check_missed() == 1
        assert check_missed() == 0  # nothing new since
    (incident,) = _open(client, owner)
    assert incident["cron_job_id"] == watching and incident["kind"] == "late"
    assert incident["summary"].startswith("2 slots missed")
    wait_for(lambda: receiver.on("/slack"))
    assert [m.json["text"] for m in receiver.on("/slack")] == ["Job 'watching' is failing"]
