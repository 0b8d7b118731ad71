"""Health on real processes: a scheduler and a worker fire jobs that succeed, fail, get skipped and miss slots;
the rollups they keep equal a recount, and health, the list strip and the ledger show exactly the rows."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest

from cronmanager.models import utcnow
from tests.conftest import run_sql
from tests.health.conftest import rollup_rows
from tests.helpers import create, executions, signed_in
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def closed(app, job_id: str) -> list:
    return [r for r in executions(app, job_id) if r.status not in ("PENDING", "RUNNING")]


def test_health_from_real_fires_matches_the_executions_exactly(app, client, owner, target, stack):
    ok = create(client, owner, name="ok", cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok")
    failing = create(client, owner, name="failing", cron_expression="* * * * * *",
                     endpoint_url=f"{target.url}/status/404")
    busy = create(client, owner, name="busy", cron_expression="* * * * * *", concurrency_policy="forbid",
                  endpoint_url=f"{target.url}/slow?ms=2500")
    late = create(client, owner, name="late", cron_expression="* * * * * *", misfire_grace_s=1,
                  endpoint_url=f"{target.url}/ok")
    # `late` was due 20 s ago while no scheduler ran: its slots since then are recorded missed at start
    run_sql(app, "UPDATE cron_jobs SET next_run_at = :t WHERE id = :j", t=utcnow() - timedelta(seconds=20),
            j=late["id"])
    worker, scheduler = stack.worker(), stack.scheduler()
    wait_for(lambda: len(closed(app, ok["id"])) >= 5 and len(closed(app, failing["id"])) >= 5
             and Counter(r.status for r in closed(app, busy["id"]))["SKIPPED"] >= 2, 40,
             message="successes, failures and skips")
    scheduler.stop()
    worker.stop()  # drains: every claimed fire is recorded before it exits
    run_sql(app, "UPDATE cron_jobs SET is_active = false")  # nothing more is expected from here on

    incremental = rollup_rows(app)
    result = app.test_cli_runner().invoke(args=["health", "rebuild"])
    assert result.exit_code == 0, result.output
    assert rollup_rows(app) == incremental, "the processes' rollups differ from a recount"

    for job in (ok, failing, busy, late):
        rows = closed(app, job["id"])
        by_status = Counter(r.status for r in rows)
        runs = by_status["SUCCESS"] + by_status["FAILED"]
        h = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
        assert (h["runs"], h["failures"]) == (runs, by_status["FAILED"]), job["name"]
        assert h["slots"]["fired"] == runs and h["slots"]["skipped"] == by_status["SKIPPED"], job["name"]
        assert h["slots"]["missed"] == by_status["MISSED"], job["name"]  # every slot before the pause has a row
        durations = [r.execution_time_ms for r in rows if r.execution_time_ms is not None]
        assert h["duration_ms"]["max"] == (max(durations) if durations else None), job["name"]
    late_health = client.get(f"/api/v1/cron/{late['id']}/health?window=24h", headers=owner.headers).get_json()
    assert late_health["slots"]["missed"] >= 15
    assert Counter(r.status for r in closed(app, late["id"]))["MISSED"] >= 15

    ledger = client.get(f"/api/v1/cron/{busy['id']}/slots?window=24h&per_page=1000", headers=owner.headers)
    items = [i for i in ledger.get_json()["items"] if i["execution_id"] is not None]
    rows = {r.id: r for r in executions(app, busy["id"])}
    assert items and all(rows[i["execution_id"]].status == i["status"] for i in items)
    assert Counter(i["state"] for i in items)["skipped"] == Counter(r.status for r in rows.values())["SKIPPED"]

    page = signed_in(app, owner).get("/jobs").get_data(as_text=True)
    for job in (ok, failing, busy, late):
        row = page[page.index(f'data-job-id="{job["id"]}"'):]
        cell = row[row.index('data-col="reliability"'):row.index("</td>", row.index('data-col="reliability"'))]
        last = sorted(closed(app, job["id"]), key=lambda r: (r.scheduled_for, r.attempt_number))[-20:]
        assert re.findall(r'data-status="([A-Z]+)"', cell) == [r.status for r in last], job["name"]


def test_a_throttled_spread_job_on_real_processes_has_every_slot_accounted_for(app, client, owner, target, stack):
    """Every 2 s, throttled to every 2nd slot and spread by 1 s: the real scheduler places one fire every 4 s,
    1 s after its slot; the ledger expects exactly those slots (scheduling.effective), all fired, none missed."""
    worker, scheduler = stack.worker(), stack.scheduler()
    job = create(client, owner, name="throttled", cron_expression="*/2 * * * * *", endpoint_url=f"{target.url}/ok",
                 is_active=False)  # enabled once throttled, so no fire of the plain schedule is placed first
    resp = client.patch(f"/api/v1/cron/{job['id']}", json={"throttle_factor": 2, "spread_offset_s": 1},
                        headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    assert client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": True},
                       headers=owner.headers).status_code == 200
    wait_for(lambda: len(closed(app, job["id"])) >= 4, 40, message="four throttled fires")
    assert client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False},
                       headers=owner.headers).status_code == 200
    scheduler.stop()
    worker.stop()
    rows = closed(app, job["id"])
    slots = sorted(r.scheduled_for for r in rows)
    assert {r.status for r in rows} == {"SUCCESS"}
    assert all(t.second % 4 == slots[0].second % 4 and t.second % 2 == 1 for t in slots), slots
    assert all((b - a).total_seconds() == 4 for a, b in zip(slots, slots[1:], strict=False)), slots

    body = client.get(f"/api/v1/cron/{job['id']}/slots?window=24h&per_page=1000", headers=owner.headers).get_json()
    fired = sorted(i["scheduled_for"] for i in body["items"] if i["state"] == "fired")
    assert fired == [t.isoformat().replace("+00:00", "Z") for t in slots]
    assert body["counts"]["missed"] == 0, body["items"]
    h = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
    assert (h["runs"], h["slots"]["fired"], h["slots"]["missed"]) == (len(rows), len(rows), 0)
