"""Evaluation and its effects (SPEC §12): who is decided by which rule, what an applied change leaves behind."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from cronmanager.lib.redis_keys import RedisKeys
from tests.conftest import run_sql
from tests.rules.conftest import add_runs, create, set_rule


@pytest.fixture
def mode(app, monkeypatch):
    def set_mode(value: str) -> None:
        monkeypatch.setitem(app.config, "AUTO_RESCHEDULE", value)
    set_mode("on")
    return set_mode


def evaluate(client, admin) -> list[dict]:
    resp = client.post("/api/v1/rules/evaluate", headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def job_row(app, job_id: str):
    return run_sql(app, "SELECT throttle_factor, spread_offset_s, next_run_at, throttle_anchor_at FROM cron_jobs"
                        " WHERE id = :id", id=job_id)[0]


def test_seven_failures_of_ten_throttle_the_job_with_every_effect(client, app, admin, owner, mode):
    job = create(client, owner, cron_expression="*/5 * * * *")
    add_runs(app, job["id"], "SSSFFFFFFF")
    before = job_row(app, job["id"])
    items = evaluate(client, admin)
    assert items == [{
        "cron_job_id": job["id"], "job_name": "ping", "rule": "failure", "applied": True,
        "from": {"throttle_factor": 1, "spread_offset_s": 0}, "to": {"throttle_factor": 2, "spread_offset_s": 0},
        "reason": "7 of the last 10 runs failed (70% > 50%): every 2nd slot", "evaluated_at": items[0]["evaluated_at"],
    }]
    after = job_row(app, job["id"])
    assert after[0] == 2 and after[3] == before[2] == after[2], "counting starts at the first unplaced slot"
    change = run_sql(app, "SELECT source, reason, old_throttle_factor, new_throttle_factor, old_spread_offset_s,"
                          " new_spread_offset_s, changed_by FROM schedule_changes WHERE source = 'rules-engine'")
    assert change == [("rules-engine", "rule failure: 7 of the last 10 runs failed (70% > 50%): every 2nd slot",
                       1, 2, 0, 0, None)]
    notes = run_sql(app, "SELECT user_id, kind, title, body FROM notifications")
    assert len(notes) == 1 and notes[0][0] == owner.id and notes[0][1] == "schedule_changed"
    assert "7 of the last 10 runs failed" in notes[0][3] and "every 2nd slot" in notes[0][3]
    r = app.extensions["redis"]
    events = [json.loads(v[b"e"]) for _, v in r.xrange(RedisKeys(app.config['REDIS_PREFIX']).events_stream)]
    changed = [e for e in events if e["type"] == "schedule:changed"]
    assert changed and changed[-1]["data"]["throttle_factor"] == 2 and changed[-1]["owner_id"] == owner.id


def test_the_preview_of_a_throttled_job_matches_its_next_run(client, app, admin, owner, mode):
    job = create(client, owner, cron_expression="* * * * *")
    add_runs(app, job["id"], "FFFFFFFFFF")
    evaluate(client, admin)
    body = client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()
    preview = client.get("/api/v1/cron/preview", query_string={
        "expression": "* * * * *", "timezone": body["timezone"], "job_id": job["id"], "count": 3},
        headers=owner.headers).get_json()["fires"]
    assert preview[0]["utc"] == body["next_run_at"]
    gaps = {datetime.fromisoformat(b["utc"][:-1]) - datetime.fromisoformat(a["utc"][:-1])
            for a, b in zip(preview, preview[1:])}
    assert gaps == {timedelta(minutes=2)}


def test_dry_run_changes_nothing_but_lists_the_proposal(client, app, admin, owner, mode):
    mode("dry-run")
    job = create(client, owner)
    add_runs(app, job["id"], "FFFFFFFFFF")
    before = job_row(app, job["id"])
    items = evaluate(client, admin)
    assert [(i["rule"], i["applied"], i["to"]["throttle_factor"]) for i in items] == [("failure", False, 2)]
    assert job_row(app, job["id"]) == before
    assert run_sql(app, "SELECT count(*) FROM schedule_changes WHERE source = 'rules-engine'") == [(0,)]
    assert run_sql(app, "SELECT count(*) FROM notifications") == [(0,)]
    listed = client.get("/api/v1/rules/proposals", headers=owner.headers).get_json()
    assert listed["mode"] == "dry-run" and [i["cron_job_id"] for i in listed["items"]] == [job["id"]]


def test_off_evaluates_nothing_on_the_schedule(app, owner, client, mode):
    from cronmanager.rules.runner import run_rules

    mode("off")
    job = create(client, owner)
    add_runs(app, job["id"], "FFFFFFFFFF")
    with app.app_context():
        assert run_rules() == {"mode": "off", "decisions": 0}
    assert job_row(app, job["id"])[0] == 1


def test_opted_out_and_pinned_jobs_are_never_touched(client, app, admin, owner, mode):
    off = create(client, owner, auto_reschedule="off")
    pinned = create(client, owner)
    client.put(f"/api/v1/cron/{pinned['id']}", json={"auto_reschedule": "pinned"}, headers=admin.headers)
    on = create(client, owner)
    for job in (off, pinned, on):
        add_runs(app, job["id"], "FFFFFFFFFF")
    assert [i["cron_job_id"] for i in evaluate(client, admin)] == [on["id"]]
    assert job_row(app, off["id"])[0] == job_row(app, pinned["id"])[0] == 1


def test_min_runs_cooldown_and_max_factor(client, app, admin, owner, mode):
    job = create(client, owner)
    add_runs(app, job["id"], "FFFF")
    assert evaluate(client, admin) == [], "4 runs are fewer than min_runs 5"
    add_runs(app, job["id"], "F")
    assert [i["to"]["throttle_factor"] for i in evaluate(client, admin)] == [2]
    add_runs(app, job["id"], "FFFFFFFFF")
    assert evaluate(client, admin) == [], "9 runs since the change: still cooling down"
    add_runs(app, job["id"], "F")
    assert [i["to"]["throttle_factor"] for i in evaluate(client, admin)] == [4]
    set_rule(client, admin, "failure", max_factor=4, cooldown_runs=0)
    assert evaluate(client, admin) == [], "at max_factor the failure rule decides: no change"
    assert job_row(app, job["id"])[0] == 4


def test_recovery_halves_back_to_the_original_schedule(client, app, admin, owner, mode):
    job = create(client, owner)
    client.put(f"/api/v1/cron/{job['id']}", json={"throttle_factor": 4}, headers=owner.headers)
    add_runs(app, job["id"], "FSSSSSSSSSSSSSSSSSSSSS")
    items = evaluate(client, admin)
    assert [(i["rule"], i["to"]["throttle_factor"]) for i in items] == [("recovery", 2)]
    assert items[0]["reason"] == "10 of the last 10 runs succeeded (100% >= 95%): every 2nd slot"
    add_runs(app, job["id"], "SSSSSSSSSS")
    items = evaluate(client, admin)
    assert items[0]["to"]["throttle_factor"] == 1 and "every slot (the original schedule)" in items[0]["reason"]
    assert job_row(app, job["id"])[3] is None


def test_priority_decides_which_rule_wins(client, app, admin, owner, mode):
    job = create(client, owner)
    add_runs(app, job["id"], "TTTTTTTTTT")
    assert [i["rule"] for i in evaluate(client, admin)] == ["timeout"]
    other = create(client, owner)
    add_runs(app, other["id"], "TTTTTTTTTT")
    client.put("/api/v1/rules/failure", json={"priority": 1}, headers=admin.headers)
    assert [i["rule"] for i in evaluate(client, admin)] == ["failure"]


def test_a_disabled_rule_does_not_decide(client, app, admin, owner, mode):
    job = create(client, owner)
    add_runs(app, job["id"], "FFFFFFFFFF")
    client.put("/api/v1/rules/failure", json={"enabled": False}, headers=admin.headers)
    assert evaluate(client, admin) == []


def test_a_user_sees_only_proposals_about_own_jobs(client, app, admin, owner, outsider, mode):
    mode("dry-run")
    mine, theirs = create(client, owner), create(client, outsider)
    for job in (mine, theirs):
        add_runs(app, job["id"], "FFFFFFFFFF")
    assert len(evaluate(client, admin)) == 2
    items = client.get("/api/v1/rules/proposals", headers=owner.headers).get_json()["items"]
    assert [i["cron_job_id"] for i in items] == [mine["id"]]


def test_old_anchors_move_up_to_the_next_fire_keeping_the_phase(client, app, owner):
    from cronmanager.extensions import db
    from cronmanager.models import CronJob, utcnow
    from cronmanager.rules.engine import rebase_anchors
    from cronmanager.scheduling import effective
    from cronmanager.scheduling.effective import EffectiveSchedule

    job = create(client, owner, cron_expression="* * * * *", throttle_factor=3, spread_offset_s=7)
    run_sql(app, "UPDATE cron_jobs SET throttle_anchor_at = throttle_anchor_at - interval '3 days'")
    now = utcnow()
    with app.app_context():
        row = db.session.get(CronJob, job["id"])
        row.next_run_at = effective.next_fire(EffectiveSchedule.of(row), now)
        db.session.commit()
        expected = effective.next_fires(EffectiveSchedule.of(row), now, 4)
        assert rebase_anchors(now) == 1
        row = db.session.get(CronJob, job["id"])
        assert row.throttle_anchor_at == row.next_run_at - timedelta(seconds=7)
        assert effective.next_fires(EffectiveSchedule.of(row), now, 4) == expected
        db.session.remove()
