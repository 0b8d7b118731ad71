"""The job form's "Run after" rows and the job page's upstream and downstream jobs (only those the viewer sees)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from tests.helpers import create, signed_in

URL = "http://127.0.0.1:9/x"


def form(**fields) -> MultiDict:
    base = {"name": "Report", "cron_expression": "", "timezone": "UTC", "http_method": "GET", "endpoint_url": URL,
            "timeout_s": "30", "retry_count": "0", "concurrency_policy": "allow", "is_active": "y",
            "misfire_grace_s": "60", "alert_after_failures": "3", "run_after_shown": "1"}
    data = MultiDict({**base, **{k: v for k, v in fields.items() if not isinstance(v, list)}})
    for key, values in fields.items():
        if isinstance(values, list):
            data.setlist(key, values)
    return data


def test_the_form_saves_a_job_that_runs_after_others_and_edits_its_rows(app, client, owner):
    a = create(client, owner, name="Import", endpoint_url=URL, cron_expression="0 1 * * *")
    b = create(client, owner, name="Cleanup", endpoint_url=URL, cron_expression="0 2 * * *")
    page = signed_in(app, owner)
    assert "Run after other jobs" in page.get("/jobs/new").get_data(as_text=True)
    resp = page.post("/jobs/new", data=form(dep_job=[a["id"], ""], dep_on=["failure", "success"],
                                            dep_delay=["30", "0"]))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    data = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert data["cron_expression"] is None
    assert data["run_after"] == [{"job_id": a["id"], "on": "failure", "delay_s": 30}]
    edit = page.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    assert f'<option value="{a["id"]}" selected>' in edit and 'value="30"' in edit
    resp = page.post(f"/jobs/{job_id}/edit", data=form(cron_expression="0 4 * * *", dep_job=[b["id"]],
                                                       dep_on=["completion"], dep_delay=["0"]))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    data = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert data["run_after"] == [{"job_id": b["id"], "on": "completion", "delay_s": 0}]


def test_the_form_shows_each_refusal_next_to_the_rows(app, client, owner):
    a = create(client, owner, name="Import", endpoint_url=URL, cron_expression="0 1 * * *")
    page = signed_in(app, owner)
    neither = page.post("/jobs/new", data=form(dep_job=[""], dep_on=["success"], dep_delay=["0"]))
    assert neither.status_code == 422 and "required unless run_after" in neither.get_data(as_text=True)
    bad_delay = page.post("/jobs/new", data=form(dep_job=[a["id"]], dep_on=["success"], dep_delay=["soon"]))
    html = bad_delay.get_data(as_text=True)
    assert bad_delay.status_code == 422 and 'data-field-error="run_after"' in html and 'value="soon"' in html
    cycle = create(client, owner, name="After import", endpoint_url=URL, run_after=[{"job_id": a["id"]}])
    resp = page.post(f"/jobs/{a['id']}/edit", data=form(name="Import", cron_expression="0 1 * * *",
                                                        dep_job=[cycle["id"]], dep_on=["success"], dep_delay=["0"]))
    assert resp.status_code == 422
    assert "Row 1: this would make a cycle: After import → Import → After import" in resp.get_data(as_text=True)


def test_the_job_page_lists_upstream_and_downstream_jobs_the_viewer_may_see(app, client, owner, admin):
    a = create(client, owner, name="Import", endpoint_url=URL, cron_expression="0 1 * * *")
    b = create(client, owner, name="Report", endpoint_url=URL, run_after=[{"job_id": a["id"], "delay_s": 60}])
    create(client, admin, name="Admins' mail", endpoint_url=URL, run_after=[{"job_id": b["id"], "on": "failure"}])
    mine = signed_in(app, owner).get(f"/jobs/{b['id']}").get_data(as_text=True)
    assert "runs only after the jobs below" in mine and "No schedule: runs after other jobs only" in mine
    assert f'href="/jobs/{a["id"]}">Import</a>' in mine and "60 s later" in mine
    assert "Admins" not in mine  # the owner may not see the admin's job
    theirs = signed_in(app, admin).get(f"/jobs/{b['id']}").get_data(as_text=True)
    assert "Admins&#39; mail</a>" in theirs and "on failure" in theirs
    listed = signed_in(app, owner).get("/jobs").get_data(as_text=True)
    assert "after other jobs" in listed


def test_the_run_viewer_links_the_run_whose_end_fired_it(app, client, owner):
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, utcnow

    a = create(client, owner, name="Import", endpoint_url=URL, cron_expression="0 1 * * *")
    b = create(client, owner, name="Report", endpoint_url=URL, run_after=[{"job_id": a["id"]}])
    with app.app_context():
        now = utcnow()
        parent = CronExecution(cron_job_id=a["id"], scheduled_for=now, due_at=now, trigger="schedule",
                               status="SUCCESS", completed_at=now)
        db.session.add(parent)
        db.session.flush()
        child = CronExecution(cron_job_id=b["id"], scheduled_for=now, due_at=now, trigger="dependency",
                              status="PENDING", parent_execution_id=parent.id)
        db.session.add(child)
        db.session.commit()
        ids = parent.id, child.id
    html = signed_in(app, owner).get(f"/jobs/{b['id']}/executions/{ids[1]}?fragment=1").get_data(as_text=True)
    assert f'href="/jobs/{a["id"]}/executions/{ids[0]}">run #{ids[0]}</a>' in html
