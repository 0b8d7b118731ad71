"""Load spreading (rule `load`, POST /cron/spread): distinct, stable offsets below each job's shortest gap."""

from __future__ import annotations

from cronmanager.rules.spread import Member, assign_offsets, stable_hash
from tests.conftest import run_sql
from tests.rules.conftest import create


def _herd(client, app, owner, n: int, **fields) -> list[dict]:
    """n jobs on one instant (creating them may cross a minute boundary)."""
    jobs = [create(client, owner, name=f"herd-{i}", **fields) for i in range(n)]
    run_sql(app, "UPDATE cron_jobs SET next_run_at = (SELECT max(next_run_at) FROM cron_jobs WHERE id IN :ids)"
                 " WHERE id IN :ids", ids=tuple(j["id"] for j in jobs))
    return jobs


def test_offsets_are_distinct_stable_and_independent_of_order():
    members = [Member(f"00000000-0000-4000-8000-{i:012d}", "* * * * *", "UTC") for i in range(50)]
    offsets = assign_offsets(members, 60)
    assert len(set(offsets.values())) == 50 and all(0 <= o < 60 for o in offsets.values())
    assert assign_offsets(list(reversed(members)), 60) == offsets
    lone = members[7]
    assert assign_offsets([lone], 60) == {lone.job_id: stable_hash(lone.job_id) % 60}
    assert all(o < 20 for o in assign_offsets([Member("x", "*/20 * * * * *", "UTC")], 60).values())


def test_spread_by_hand_moves_the_herd_and_reports_the_busiest_instant(client, app, admin, owner):
    jobs = _herd(client, app, owner, 50)
    resp = client.post("/api/v1/cron/spread", json={"window_s": 60}, headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    offsets = {j["id"]: j["spread_offset_s"] for j in body["items"]}
    assert set(offsets) == {j["id"] for j in jobs} and len(set(offsets.values())) == 50
    assert body["busiest_before"] == 50 and body["busiest_after"] <= 1
    rows = run_sql(app, "SELECT id, spread_offset_s, extract(second from next_run_at) FROM cron_jobs")
    assert all(int(sec) == offsets[i] == off for i, off, sec in rows)
    changes = run_sql(app, "SELECT source, changed_by FROM schedule_changes WHERE new_spread_offset_s > 0")
    assert {c for c in changes} == {("api", admin.id)}
    again = client.post("/api/v1/cron/spread", json={"job_ids": [j["id"] for j in jobs], "window_s": 60},
                        headers=admin.headers)
    assert {j["id"]: j["spread_offset_s"] for j in again.get_json()["items"]} == offsets, "stable on a second run"


def test_spread_refuses_unknown_jobs_and_changes_nothing(client, app, admin, owner):
    job = create(client, owner)
    unknown = "00000000-0000-4000-8000-000000000000"
    resp = client.post("/api/v1/cron/spread", json={"job_ids": [job["id"], unknown], "window_s": 60},
                       headers=admin.headers)
    assert resp.status_code == 404 and "job_ids" in resp.get_json()["error"]["fields"]
    assert client.post("/api/v1/cron/spread", json={"window_s": 1}, headers=admin.headers).status_code == 422
    assert run_sql(app, "SELECT spread_offset_s FROM cron_jobs") == [(0,)]


def test_the_load_rule_spreads_crowds_above_the_threshold_only(client, app, admin, owner, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_RESCHEDULE", "on")
    client.put("/api/v1/rules/load", json={"params": {"threshold": 5}}, headers=admin.headers)
    crowd = _herd(client, app, owner, 6)
    few = _herd(client, app, owner, 3, cron_expression="0 0 1 1 *")  # another instant, 3 <= 5 jobs
    items = client.post("/api/v1/rules/evaluate", headers=admin.headers).get_json()["items"]
    moved = {i["cron_job_id"] for i in items if i["to"]["spread_offset_s"] > 0}
    assert {i["rule"] for i in items} == {"load"} and moved <= {j["id"] for j in crowd} and len(moved) >= 5
    assert "6 active jobs fire at" in items[0]["reason"] and "(more than 5)" in items[0]["reason"]
    assert not moved & {j["id"] for j in few}
