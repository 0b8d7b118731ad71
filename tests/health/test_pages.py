"""The jobs list's 7-day columns and strip, and the job page's health, charts and ledger, as served."""

from __future__ import annotations

import re

from tests.helpers import signed_in


def test_the_jobs_list_shows_rate_p95_and_the_last_runs_strip(app, owner, history):
    job, _ = history
    html = signed_in(app, owner).get("/jobs").get_data(as_text=True)
    row = html[html.index(f'data-job-id="{job["id"]}"'):]
    cell = row[row.index('data-col="reliability"'):row.index("</td>", row.index('data-col="reliability"'))]
    assert '<span data-col="success-rate">83.3 %</span>' in cell
    assert '<span data-col="p95">1.00 s</span>' in cell
    statuses = re.findall(r'data-status="([A-Z]+)"', cell)
    # every closed attempt by slot, oldest first (the slot with no row at all has no cell)
    assert statuses == ["SUCCESS", "SUCCESS", "FAILED", "SUCCESS", "FAILED", "SKIPPED", "MISSED", "SUCCESS",
                        "SUCCESS"]
    assert cell.count("<rect") == 20  # 9 runs and 11 empty places
    assert f'/jobs/{job["id"]}/executions/' in cell


def test_the_job_page_shows_health_charts_and_every_slot(app, owner, outsider, history):
    job, _ = history
    page = signed_in(app, owner).get(f"/jobs/{job['id']}?slots=24h")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    week = html[html.index('data-health-window="7d"'):html.index('data-health-window="30d"')]
    assert "83.33 %" in week and "(6 runs, 1 failed)" in week
    assert "10 expected: 6 fired, 1 skipped" in week and ">2 missed<" in week
    assert html.count("<svg") >= 4 and 'data-chart="Duration, 30d"' in html and 'data-chart="Start lag, 7d"' in html
    ledger = html[html.index("data-slot-ledger"):]
    assert re.findall(r'data-slot="(\w+)"', ledger) == ["pending", "fired", "fired", "missed", "missed", "skipped",
                                                          "fired", "fired", "fired", "fired"]
    assert "no fire was recorded for this slot" in ledger
    assert signed_in(app, outsider).get(f"/jobs/{job['id']}").status_code == 404
