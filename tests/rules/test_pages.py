"""Dashboard pages of the rules engine, server-side: what an owner and an admin see and can do."""

from __future__ import annotations

from tests.conftest import run_sql
from tests.helpers import signed_in
from tests.rules.conftest import add_runs, create


def test_job_detail_shows_the_effective_schedule_its_origin_and_history(app, client, admin, owner, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_RESCHEDULE", "on")
    job = create(client, owner, cron_expression="*/5 * * * *")
    page = signed_in(app, owner)
    html = page.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "as written (every slot)" in html and "follows the global mode" in html
    add_runs(app, job["id"], "SSSFFFFFFF")
    client.post("/api/v1/rules/evaluate", headers=admin.headers)
    html = page.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "<strong>every 2nd slot</strong> since" in html
    assert "by rule failure: 7 of the last 10 runs failed (70% &gt; 50%): every 2nd slot" in html
    assert "×1 +0 s" in html and "×2 +0 s" in html, "schedule history shows the rule change"
    assert "Next runs <span" in html and "(every 2nd slot)" in html


def test_dry_run_shows_the_pending_proposal_on_the_job(app, client, admin, owner, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_RESCHEDULE", "dry-run")
    job = create(client, owner)
    add_runs(app, job["id"], "FFFFFFFFFF")
    client.post("/api/v1/rules/evaluate", headers=admin.headers)
    html = signed_in(app, owner).get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "data-pending-proposal" in html and "rule <strong>failure</strong> would make it ×2" in html


def test_settings_rules_lists_rules_and_admins_save_validated_params(app, admin, owner):
    html = signed_in(app, owner).get("/settings/rules").get_data(as_text=True)
    assert html.index('data-rule="timeout"') < html.index('data-rule="failure"') < html.index('data-rule="load"')
    assert "more than 50% of the last 10 runs failed" in html and 'name="params"' not in html
    page = signed_in(app, admin)
    resp = page.post("/settings/rules/failure", data={"params": '{"window": 0}', "priority": "20", "enabled": "on"},
                     follow_redirects=True)
    assert "Rule failure not changed" in resp.get_data(as_text=True)
    assert run_sql(app, "SELECT params->>'window' FROM reschedule_rules WHERE name = 'failure'") == [("10",)]
    resp = page.post("/settings/rules/failure", data={"params": '{"window": 6, "min_runs": 6}', "priority": "20"},
                     follow_redirects=True)
    assert "Rule failure saved." in resp.get_data(as_text=True)
    assert run_sql(app, "SELECT params->>'window', enabled FROM reschedule_rules WHERE name = 'failure'") == \
        [("6", False)]
    assert signed_in(app, owner).post("/settings/rules/failure", data={"params": "{}"}).status_code == 403


def test_the_jobs_page_spreads_and_the_overview_counts_the_busiest_instant(app, client, admin, owner):
    client.put("/api/v1/rules/load", json={"params": {"threshold": 3}}, headers=admin.headers)
    jobs = [create(client, owner, name=f"h{i}") for i in range(6)]
    run_sql(app, "UPDATE cron_jobs SET next_run_at = (SELECT max(next_run_at) FROM cron_jobs)")
    page = signed_in(app, admin)
    overview = page.get("/").get_data(as_text=True)
    assert "Busiest instant: <strong>6</strong> fires at once; spread: <strong>1</strong>" in overview
    assert "data-spread" in page.get("/jobs").get_data(as_text=True)
    assert "data-spread" not in signed_in(app, owner).get("/jobs").get_data(as_text=True)
    resp = page.post("/jobs/spread", data={"window_s": "60"}, follow_redirects=True)
    assert "Spread 6 jobs: the busiest instant went from 6 to 1 fires." in resp.get_data(as_text=True)
    offsets = {r[0] for r in run_sql(app, "SELECT spread_offset_s FROM cron_jobs")}
    assert len(offsets) == len(jobs)


def test_the_job_form_sets_a_factor_and_an_offset_by_hand(app, owner):
    page = signed_in(app, owner)
    form = {"name": "form job", "cron_expression": "*/10 * * * *", "timezone": "UTC",
            "endpoint_url": "https://t.example.com/", "http_method": "GET", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "alert_after_failures": "3", "misfire_grace_s": "60", "is_active": "y",
            "throttle_factor": "3", "spread_offset_s": "45"}
    resp = page.post("/jobs/new", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert run_sql(app, "SELECT throttle_factor, spread_offset_s FROM cron_jobs") == [(3, 45)]
    resp = page.post("/jobs/new", data={**form, "spread_offset_s": "600"})
    assert resp.status_code == 422 and "shortest gap between slots (600 s)" in resp.get_data(as_text=True)


def test_the_rules_page_shows_a_users_proposal_behind_200_of_others(app, client, admin, owner, outsider):
    mine = create(client, owner, name="mine-proposed")
    columns = [c for (c,) in run_sql(app, "SELECT column_name FROM information_schema.columns WHERE table_name = "
                                          "'cron_jobs' ORDER BY ordinal_position")]
    copied = {"id": "'00000000-0000-0000-0000-' || lpad(g::text, 12, '0')", "owner_id": ":other",
              "name": "'other-' || g"}
    run_sql(app, f"INSERT INTO cron_jobs ({', '.join(columns)}) SELECT {', '.join(copied.get(c, c) for c in columns)} "
                 "FROM cron_jobs, generate_series(1, 201) AS g WHERE id = :mine", other=outsider.id, mine=mine["id"])
    run_sql(app, "INSERT INTO rule_proposals (cron_job_id, rule, from_throttle_factor, from_spread_offset_s, "
                 "to_throttle_factor, to_spread_offset_s, reason, applied, evaluated_at) "
                 "SELECT id, 'failure', 1, 0, 2, 0, 'failing', false, now() FROM cron_jobs")
    html = signed_in(app, owner).get("/settings/rules").get_data(as_text=True)
    assert "mine-proposed" in html  # its id sorts after the 201 others: a filter after LIMIT 200 hid it
    assert "other-1" not in html
    assert "other-1" in signed_in(app, admin).get("/settings/rules").get_data(as_text=True)
