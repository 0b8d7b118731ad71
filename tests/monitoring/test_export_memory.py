"""CSV/JSON export of a large history streams with bounded memory and shows only what the caller may see."""

from __future__ import annotations

import csv
import gc
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.monitoring.conftest import make_job

# an export of about 5.8 MB of CSV (22 MB of JSON), above what Python may hold while streaming it: 4 MiB, where
# the streamed exports peak at 1.7 MB (CSV) and 0.9 MB (JSON) of Python memory, while a body built whole would hold
# all of it (seen at 110,000 rows, 2026-12-07)
ROWS = 35_000
PYTHON_PEAK = 4 * 1024 * 1024
MEASURED: dict[str, dict] = {}


def _history(app, owner, outsider, rows: int) -> tuple[str, str]:
    from cronmanager.extensions import db

    mine = make_job(app, owner.id, name="big")
    theirs = make_job(app, outsider.id, name="secret")
    with app.app_context():
        for job, n in ((mine, rows), (theirs, 500)):
            db.session.execute(text("""
                INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at, created_at,
                    started_at, completed_at, status, response_status, response_truncated, error_message,
                    execution_time_ms, fire_lag_ms)
                SELECT :job, t, 'schedule', 1, t, t, t, t, CASE WHEN i % 10 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
                       200, false, CASE WHEN i % 10 = 0 THEN 'connection refused by host' END, i % 1000, 3
                FROM generate_series(1, :n) AS i, LATERAL (SELECT now() - i * interval '1 second' AS t) AS s
            """), {"job": job, "n": n})
        db.session.commit()
    return mine, theirs


@pytest.fixture
def big_history(app, owner, outsider):
    return _history(app, owner, outsider, ROWS)


@pytest.fixture
def small_history(app, owner, outsider):
    return _history(app, owner, outsider, 300)


def _hwm_reset() -> int | None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status("VmRSS")
    except OSError:
        return None


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _stream(client, url: str, headers: dict) -> tuple[int, bytes, bytes, dict]:
    """Consume the body chunk by chunk, keeping only its head and tail, and measure memory while doing it."""
    gc.collect()
    rss_before = _hwm_reset()
    tracemalloc.start()
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200
    size, head, tail = 0, b"", b""
    for chunk in resp.response:
        chunk = chunk.encode() if isinstance(chunk, str) else chunk
        if len(head) < 4096:
            head += chunk[:4096]
        tail = (tail + chunk)[-4096:]
        size += len(chunk)
    resp.close()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures = {"bytes": size, "tracemalloc_peak": peak}
    if rss_before is not None:
        figures["rss_peak_delta"] = _status("VmHWM") - rss_before
    return size, head, tail, figures


def test_export_of_a_large_history_streams_in_bounded_memory(client, owner, big_history):
    for fmt in ("csv", "json"):
        _check_export(client, owner, big_history, fmt)


def _check_export(client, owner, big_history, fmt: str) -> None:
    mine, theirs = big_history
    size, head, tail, figures = _stream(client, f"/api/v1/logs?format={fmt}", owner.headers)
    MEASURED[fmt] = figures
    print(f"\nexport {fmt}: {ROWS} rows, {figures}")
    assert size > PYTHON_PEAK  # the whole export is bigger ...
    assert figures["tracemalloc_peak"] < PYTHON_PEAK  # ... than Python ever holds: a few batches
    if "rss_peak_delta" in figures:
        assert figures["rss_peak_delta"] < 64 * 1024 * 1024
    if fmt == "csv":
        first = next(csv.DictReader(io.StringIO(head.decode().split("\r\n", 2)[0] + "\r\n"
                                                + head.decode().split("\r\n", 2)[1] + "\r\n")))
        assert first["cron_job_id"] == mine and first["job_name"] == "big"
    else:
        # the documented list envelope, streamed: total after the items
        assert head.startswith(b'{"items": [{')
        envelope_end = f'], "total": {ROWS}, "page": 1, "per_page": {ROWS}}}'.encode()
        assert tail.endswith(envelope_end)
        items_end = len(tail) - len(envelope_end)
        assert json.loads(tail[tail.rindex(b"},{", 0, items_end) + 2:items_end])["cron_job_id"] == mine
    assert theirs.encode() not in head and theirs.encode() not in tail


def test_export_respects_visibility(client, owner, outsider, admin, small_history):
    mine, theirs = small_history
    body = client.get("/api/v1/logs?format=csv", headers=outsider.headers).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 500 and {r["cron_job_id"] for r in rows} == {theirs}
    resp = client.get(f"/api/v1/cron/{theirs}/executions?format=json", headers=owner.headers)
    assert resp.status_code == 404
    body = client.get(f"/api/v1/logs?format=csv&job_id={theirs}", headers=owner.headers).get_data(as_text=True)
    assert body.strip().count("\n") == 0  # header only: someone else's rows never leak through a filter
    rows = json.loads(client.get(f"/api/v1/cron/{theirs}/executions?format=json&status=FAILED",
                                 headers=admin.headers).get_data())["items"]
    assert len(rows) == 50 and all(r["status"] == "FAILED" for r in rows)
