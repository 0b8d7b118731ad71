"""The rules engine end to end: real scheduler and worker processes, a target that fails and then recovers."""

from __future__ import annotations

import json

import pytest

from cronmanager.lib.redis_keys import RedisKeys
from tests.conftest import run_sql
from tests.stack import wait_for

pytestmark = pytest.mark.slow

FAST = {"AUTO_RESCHEDULE": "on", "RULES_INTERVAL_S": "1"}
SHORT_WINDOW = {"window": 6, "min_runs": 6, "cooldown_runs": 6}


def create(client, persona, **fields):
    resp = client.post("/api/v1/cron", json={"name": "job", "cron_expression": "*/2 * * * * *", **fields},
                       headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def factor(app, job_id: str) -> int:
    return run_sql(app, "SELECT throttle_factor FROM cron_jobs WHERE id = :id", id=job_id)[0][0]


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 1) for a, b in zip(times, times[1:])]


def test_a_failing_job_is_throttled_to_every_second_slot_and_returns_when_it_recovers(
        app, client, admin, owner, target, stack, keep_rules):
    for rule in ("failure", "recovery"):
        assert client.put(f"/api/v1/rules/{rule}", json={"params": SHORT_WINDOW},
                          headers=admin.headers).status_code == 200
    job = create(client, owner, endpoint_url=f"{target.url}/flaky/a?fail=6")
    opted_out = create(client, owner, endpoint_url=f"{target.url}/flaky/b?fail=1000", auto_reschedule="off")
    pinned = create(client, owner, endpoint_url=f"{target.url}/flaky/c?fail=1000")
    assert client.put(f"/api/v1/cron/{pinned['id']}", json={"auto_reschedule": "pinned"},
                      headers=admin.headers).status_code == 200
    stack.worker(**FAST)
    stack.scheduler(**FAST)

    wait_for(lambda: factor(app, job["id"]) == 2, 60, message="throttled to every 2nd slot")
    # fires already placed (the scheduler's 3 s lookahead) still run: look from the second one after the change
    throttled_at = len(target.hits_for("/flaky/a")) + 2
    wait_for(lambda: len(target.hits_for("/flaky/a")) >= throttled_at + 4, 40, message="throttled fires")
    hits = [h.at for h in target.hits_for("/flaky/a")][throttled_at:throttled_at + 4]
    assert all(3.0 <= g <= 5.0 for g in gaps(hits)), f"throttled fires every 4 s, got gaps {gaps(hits)}"

    wait_for(lambda: factor(app, job["id"]) == 1, 90, message="back to every slot after recovery")
    recovered_at = len(target.hits_for("/flaky/a")) + 2
    wait_for(lambda: len(target.hits_for("/flaky/a")) >= recovered_at + 4, 30, message="fires after recovery")
    hits = [h.at for h in target.hits_for("/flaky/a")][recovered_at:recovered_at + 4]
    assert all(1.0 <= g <= 3.0 for g in gaps(hits)), f"every 2 s again, got gaps {gaps(hits)}"

    changes = run_sql(app, "SELECT old_throttle_factor, new_throttle_factor, reason FROM schedule_changes"
                           " WHERE cron_job_id = :id AND source = 'rules-engine' ORDER BY id", id=job["id"])
    assert [(c[0], c[1]) for c in changes] == [(1, 2), (2, 1)]
    assert changes[0][2] == "rule failure: 6 of the last 6 runs failed (100% > 50%): every 2nd slot"
    assert changes[1][2] == ("rule recovery: 6 of the last 6 runs succeeded (100% >= 95%): "
                             "every slot (the original schedule)")
    notes = run_sql(app, "SELECT user_id, kind FROM notifications WHERE cron_job_id = :id"
                         " AND kind = 'schedule_changed'", id=job["id"])
    assert notes == [(owner.id, "schedule_changed")] * 2
    r = app.extensions["redis"]
    events = [json.loads(v[b"e"]) for _, v in r.xrange(RedisKeys(app.config['REDIS_PREFIX']).events_stream)]
    assert [e["data"]["throttle_factor"] for e in events
            if e["type"] == "schedule:changed" and e["data"]["id"] == job["id"]] == [2, 1]

    for untouched in (opted_out, pinned):
        assert factor(app, untouched["id"]) == 1
        assert run_sql(app, "SELECT count(*) FROM schedule_changes WHERE cron_job_id = :id"
                            " AND source = 'rules-engine'", id=untouched["id"]) == [(0,)]
    assert len(target.hits_for("/flaky/b")) > 12, "the opted-out job kept firing every 2 s"


def test_dry_run_lists_the_proposal_and_changes_nothing(app, client, admin, owner, target, stack, keep_rules):
    client.put("/api/v1/rules/failure", json={"params": SHORT_WINDOW}, headers=admin.headers)
    job = create(client, owner, endpoint_url=f"{target.url}/status/500")
    stack.worker(AUTO_RESCHEDULE="dry-run", RULES_INTERVAL_S="1")
    stack.scheduler(AUTO_RESCHEDULE="dry-run", RULES_INTERVAL_S="1")
    proposals = wait_for(lambda: client.get("/api/v1/rules/proposals", headers=owner.headers).get_json()["items"],
                         60, message="a proposal")
    assert [(p["cron_job_id"], p["rule"], p["applied"], p["to"]["throttle_factor"]) for p in proposals] == \
        [(job["id"], "failure", False, 2)]
    seen = len(target.hits_for("/status/500"))
    wait_for(lambda: len(target.hits_for("/status/500")) >= seen + 3, 20, message="fires go on")
    hits = [h.at for h in target.hits_for("/status/500")][seen:seen + 3]
    assert all(g <= 3.0 for g in gaps(hits)), "still every slot"
    assert factor(app, job["id"]) == 1
    assert run_sql(app, "SELECT count(*) FROM schedule_changes WHERE source = 'rules-engine'") == [(0,)]


def test_fifty_jobs_on_one_instant_get_distinct_stable_offsets_and_fire_spread(
        app, client, admin, owner, target, stack, keep_rules):
    jobs = [create(client, owner, name=f"herd-{i}", cron_expression="* * * * *",
                   endpoint_url=f"{target.url}/ok/{i}") for i in range(50)]
    run_sql(app, "UPDATE cron_jobs SET next_run_at = (SELECT max(next_run_at) FROM cron_jobs)")
    stack.worker(**FAST)
    stack.scheduler(**FAST)
    wait_for(lambda: run_sql(app, "SELECT count(*) FROM cron_jobs WHERE spread_offset_s > 0")[0][0] >= 49, 30,
             message="the load rule spread the herd")
    offsets = dict(run_sql(app, "SELECT id, spread_offset_s FROM cron_jobs"))
    assert len(set(offsets.values())) == 50
    again = client.post("/api/v1/cron/spread", json={"job_ids": list(offsets), "window_s": 60},
                        headers=admin.headers).get_json()
    assert {j["id"]: j["spread_offset_s"] for j in again["items"]} == offsets, "same job, same offset"

    cutoff = run_sql(app, "SELECT max(changed_at) FROM schedule_changes WHERE source = 'rules-engine'")[0][0]
    # fires placed after the spread: those placed ahead before it (the lookahead) keep the old instant, and the
    # spread's changed_at (its transaction's start) can precede their scheduled_for by a moment
    spread_fires = ("SELECT cron_job_id, min(scheduled_for), min(started_at) FROM cron_executions"
                    " WHERE status = 'SUCCESS' AND scheduled_for > :cutoff AND created_at > :cutoff"
                    " GROUP BY cron_job_id")
    first = wait_for(lambda: (rows := run_sql(app, spread_fires, cutoff=cutoff)) and len(rows) == 50 and rows, 150,
                     interval=0.5, message="every job fired once after spreading")
    assert {row[0] for row in first} == {j["id"] for j in jobs}
    assert all(row[1].second == offsets[row[0]] for row in first), "each job fires at its own offset"
    assert len({row[1] for row in first}) == 50, "no two jobs on the same instant any more"
    assert max((row[2] - row[1]).total_seconds() for row in first) < 3, "fired on time"
    assert len(target.hits_for("/ok/")) >= 50
