"""Server-side checks of the forensic record in the execution viewer and the version diff on the job page."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import signed_in


def add_execution(app, job_id: str, **fields) -> int:
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, utcnow

    with app.app_context():
        now = utcnow()
        e = CronExecution(cron_job_id=job_id, scheduled_for=now, due_at=now, trigger="schedule", attempt_number=1,
                          started_at=now, completed_at=now + timedelta(milliseconds=300), **fields)
        db.session.add(e)
        db.session.commit()
        execution_id = e.id
        db.session.remove()
    return execution_id


def test_the_viewer_shows_a_timeline_per_phase_and_the_masked_request(app, client, owner):
    job = client.post("/api/v1/cron", json={"name": "viewer", "cron_expression": "0 0 1 1 *",
                                            "endpoint_url": "http://127.0.0.1:9/x"}, headers=owner.headers).get_json()
    eid = add_execution(app, job["id"], status="SUCCESS", response_status=200, execution_time_ms=300, job_version=1,
                        timings_ms={"dns": 20, "connect": 30, "tls": 50, "ttfb": 250, "total": 300},
                        remote_addr="203.0.113.7",
                        request={"method": "GET", "url": "https://api.example/x?token=***",
                                 "headers": {"Authorization": "***", "X-Trace": "t-1"}, "body_size": 0,
                                 "body_sha256": None})
    html = signed_in(app, owner).get(f"/jobs/{job['id']}/executions/{eid}?fragment=1").get_data(as_text=True)
    phases = [("DNS", "20"), ("Connect", "30"), ("TLS", "50"), ("Waiting (first byte)", "150"), ("Body", "50")]
    for label, ms in phases:
        assert f'data-phase="{label}"' in html and f"{label}: {ms} ms" in html
    # bars are proportional: TLS starts at 50 of 300 ms (166.7 of 1000) and is 50 ms (166.7) wide
    assert 'x="166.7" y="0" width="166.7" height="20" fill="#a855f7" data-phase="TLS"' in html
    assert "to 203.0.113.7" in html and "Authorization: ***" in html and "X-Trace: t-1" in html
    assert "Job configuration version 1" in html and "what changed" not in html


def test_a_failed_run_without_response_ends_in_a_no_response_segment(app, client, owner):
    job = client.post("/api/v1/cron", json={"name": "timeout", "cron_expression": "0 0 1 1 *",
                                            "endpoint_url": "http://127.0.0.1:9/x"}, headers=owner.headers).get_json()
    eid = add_execution(app, job["id"], status="FAILED", error_class="timeout", execution_time_ms=1000,
                        timings_ms={"dns": None, "connect": 1, "tls": None, "ttfb": None, "total": 1000})
    html = signed_in(app, owner).get(f"/jobs/{job['id']}/executions/{eid}?fragment=1").get_data(as_text=True)
    assert "No response: 999 ms" in html and 'data-phase="TLS"' not in html and 'data-phase="Body"' not in html


def test_the_job_page_shows_what_changed_since_the_version_that_failed(app, client, owner):
    job = client.post("/api/v1/cron", json={"name": "diff", "cron_expression": "0 0 1 1 *",
                                            "endpoint_url": "http://127.0.0.1:9/old"}, headers=owner.headers).get_json()
    eid = add_execution(app, job["id"], status="FAILED", error_class="http_status", response_status=500,
                        job_version=1)
    viewer = signed_in(app, owner)
    assert "data-version-diff" not in viewer.get(f"/jobs/{job['id']}").get_data(as_text=True)
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"endpoint_url": "http://127.0.0.1:9/new"},
                      headers=owner.headers)
    assert resp.get_json()["version"] == 2
    html = viewer.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "data-version-diff" in html and "used configuration version 1" in html
    assert '"http://127.0.0.1:9/old"' in html and '"http://127.0.0.1:9/new"' in html
    fragment = viewer.get(f"/jobs/{job['id']}/executions/{eid}?fragment=1").get_data(as_text=True)
    assert "(now 2:" in fragment and "#version-diff" in fragment
