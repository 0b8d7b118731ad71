"""Calendar cost on placement: the same due jobs placed without a calendar and on one, in the same run.

    python -m bench.calendar_bench [--jobs 3000] [--rounds 7]

Every job fires every second, so one placement (3 s lookahead) checks about three slots per job. The calendar is
a real one (Bavaria's public holidays, a window on every day, past blackouts), so each check goes through the
holiday, blackout and window rules; its slots are all allowed, so both kinds place the same number of fires and
the difference is the calendar's cost. A third kind, on a calendar whose holiday is today, shows what recording
the skipped slots costs (SKIPPED rows instead of fires: no dispatch follows, so it is not a like-for-like ratio).
Rounds alternate the order of the kinds.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.common import PG_ADMIN_URL, admin_exec
from bench.rules_bench import _setup
from cronmanager.extensions import db
from cronmanager.models import Calendar
from cronmanager.scheduling import calendar_spec
from cronmanager.scheduling.placement import place_due

KINDS = ("plain", "calendar", "holiday")


def _calendar(name: str, **fields: object) -> str:
    spec = calendar_spec.parse({"name": name, "timezone": "Europe/Berlin", **fields})
    now = datetime.now(UTC)
    row = Calendar(id=str(uuid.uuid4()), name=name, created_at=now, updated_at=now, version=1,
                   **calendar_spec.stored(spec))
    db.session.add(row)
    return row.id


def bench(app, n: int, rounds: int) -> dict[str, list[float]]:
    with app.app_context():
        db.session.execute(text("INSERT INTO users (id, email, password_hash, role, timezone, created_at, updated_at,"
                                " is_active) VALUES ('u1', 'bench@example.com', 'x', 'ADMIN', 'UTC', now(), now(),"
                                " true)"))
        today = datetime.now(UTC).date()
        calendars = {
            "plain": None,
            "calendar": _calendar("Munich office", country="DE", subdivision="BY",
                                  windows=[{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}],
                                  blackouts=[{"start": "2026-01-05T10:00", "end": "2026-01-05T11:00"}]),
            "holiday": _calendar("Closed", holidays=[(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]),
        }
        ids = {kind: [str(uuid.uuid4()) for _ in range(n)] for kind in KINDS}
        for kind in KINDS:
            db.session.execute(text("""
                INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,
                  headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,
                  alert_after_failures, on_exhausted, auto_reschedule, owner_id, created_by, status,
                  consecutive_failures, created_at, updated_at, calendar_id, calendar_policy)
                SELECT id, 'place', '', '* * * * * *', 'UTC', 'http://127.0.0.1/', 'GET', '{}', '{}', false, 0,
                  30000, 'allow', 3600, 3, NULL, 'on', 'u1', 'u1', 'PENDING', 0, now(), now(), :cal, 'skip'
                FROM unnest(CAST(:ids AS text[])) id"""), {"ids": ids[kind], "cal": calendars[kind]})
        db.session.commit()
        timings: dict[str, list[float]] = {k: [] for k in KINDS}
        placed_rows: dict[str, tuple[int, int]] = {}
        for r in range(rounds):
            for kind in (KINDS if r % 2 == 0 else tuple(reversed(KINDS))):
                db.session.execute(text("UPDATE cron_jobs SET is_active = false WHERE is_active"))
                db.session.execute(text("DELETE FROM cron_executions"))
                start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
                db.session.execute(text("UPDATE cron_jobs SET is_active = true, next_run_at = :nxt"
                                        " WHERE id = ANY(CAST(:ids AS text[]))"), {"ids": ids[kind], "nxt": start})
                db.session.commit()
                lookahead = (start - datetime.now(UTC)).total_seconds() + 2.5
                started = time.perf_counter()
                placed = place_due(lookahead, scan_limit=n)
                timings[kind].append(time.perf_counter() - started)
                placed_rows[kind] = (placed.fires, placed.skipped)
        db.session.remove()
    p, c, h = (statistics.median(timings[k]) for k in KINDS)
    print(f"placement of {n:,} due per-second jobs, 3 slots each ({rounds} rounds, alternating order):")
    print(f"  no calendar (baseline): median {p * 1000:.0f} ms for {placed_rows['plain'][0]:,} fires")
    print(f"  on a calendar (holidays DE-BY, windows, blackouts; all allowed): median {c * 1000:.0f} ms for "
          f"{placed_rows['calendar'][0]:,} fires -> {c / p:.2f}x the baseline "
          f"(target <= 1.10x: {'met' if c / p <= 1.10 else 'NOT met'})")
    print(f"  on a calendar whose holiday is today (skip): median {h * 1000:.0f} ms for "
          f"{placed_rows['holiday'][1]:,} SKIPPED rows -> {h / p:.2f}x")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    name = f"cm_calendar_bench_{uuid.uuid4().hex[:8]}"
    admin_exec(f'CREATE DATABASE "{name}"')
    try:
        app = _setup(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", f"calbench-{name[-8:]}")
        bench(app, args.jobs, args.rounds)
        with app.app_context():
            db.engine.dispose()
    finally:
        admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
