"""Time explained (SPEC §21): the preview's transitions for 2027's DST changes and each warning, by code."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cronmanager.scheduling import cron, explain
from tests.helpers import create
from tests.schedules.conftest import record_durations


def preview(client, persona, expression: str, zone: str = "UTC", start: str | None = None, count: int = 5,
            **extra) -> dict:
    params = {"expression": expression, "timezone": zone, "count": count, **extra}
    if start:
        params["start"] = start
    resp = client.get("/api/v1/cron/preview", query_string=params, headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# (zone, expression, start, date, kind, text): each zone's 2027 spring and autumn change
CASES = [
    ("Europe/Berlin", "30 2 * * *", "2027-03-26T12:00:00Z", "2027-03-28", "gap",
     "2027-03-28: 02:30 does not exist in Europe/Berlin (clocks jump from 02:00 to 03:00); this job fires at 03:00"),
    ("Europe/Berlin", "30 2 * * *", "2027-10-29T12:00:00Z", "2027-10-31", "overlap",
     "2027-10-31: 02:30 happens twice in Europe/Berlin (clocks go back from 03:00 to 02:00); this job fires once, "
     "at the first (UTC+02:00)"),
    ("America/New_York", "30 2 * * *", "2027-03-12T12:00:00Z", "2027-03-14", "gap",
     "2027-03-14: 02:30 does not exist in America/New_York (clocks jump from 02:00 to 03:00); this job fires at "
     "03:00"),
    ("America/New_York", "30 1 * * *", "2027-11-05T12:00:00Z", "2027-11-07", "overlap",
     "2027-11-07: 01:30 happens twice in America/New_York (clocks go back from 02:00 to 01:00); this job fires "
     "once, at the first (UTC-04:00)"),
    ("Australia/Lord_Howe", "15 2 * * *", "2027-10-01T00:00:00Z", "2027-10-03", "gap",
     "2027-10-03: 02:15 does not exist in Australia/Lord_Howe (clocks jump from 02:00 to 02:30); this job fires "
     "at 02:30"),
    ("Australia/Lord_Howe", "45 1 * * *", "2027-04-01T00:00:00Z", "2027-04-04", "overlap",
     "2027-04-04: 01:45 happens twice in Australia/Lord_Howe (clocks go back from 02:00 to 01:30); this job "
     "fires once, at the first (UTC+11:00)"),
]


@pytest.mark.parametrize("zone,expression,start,day,kind,text", CASES)
def test_it_explains_the_2027_transitions(client, owner, zone, expression, start, day, kind, text):
    out = preview(client, owner, expression, zone, start)
    assert out["transitions"] == [{"date": day, "kind": kind, "text": text}]
    # the words agree with the fires the same code lists (and fires): on that day, the job runs at the named time
    on_day = [f["local"] for f in out["fires"] if f["local"].startswith(day)]
    assert len(on_day) == 1, out["fires"]
    named = text.split("fires at ")[-1] if "fires at " in text else expression.split()[1].zfill(2) + ":" + \
        expression.split()[0].zfill(2)
    assert on_day[0][11:16] == named


@pytest.mark.parametrize("zone,day,skipped,repeated", [
    ("Europe/Berlin", "2027-03-28", ["02:00", "02:15", "02:30", "02:45"], None),
    ("Australia/Lord_Howe", "2027-04-04", None, ["01:30", "01:45"]),
])
def test_wildcard_jobs_skip_the_gap_and_fire_twice_in_the_overlap(client, owner, zone, day, skipped, repeated):
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    out = preview(client, owner, "*/15 * * * *", zone, start.isoformat().replace("+00:00", "Z"), count=20)
    [t] = out["transitions"]
    local = [f["local"][11:16] for f in out["fires"]]
    if skipped:
        assert t["kind"] == "gap" and "this job skips them" in t["text"] and "4 slots" in t["text"]
        assert not set(skipped) & set(local)
    else:
        assert t["kind"] == "overlap" and "this job fires at both (UTC+11:00, then UTC+10:30)" in t["text"]
        assert all(local.count(r) == 2 for r in repeated), local


def test_a_change_no_fire_falls_in_is_still_named(client, owner):
    out = preview(client, owner, "0 9 * * *", "Europe/Berlin", "2027-03-26T00:00:00Z")
    assert out["transitions"] == [{"date": "2027-03-28", "kind": "gap", "text": (
        "2027-03-28: clocks jump from 02:00 to 03:00 in Europe/Berlin; no fire of this job falls in the skipped "
        "hour")}]
    assert preview(client, owner, "0 9 * * *", "UTC", "2027-03-26T00:00:00Z")["transitions"] == []


def test_transitions_match_the_firing_code_across_a_year():
    """Every gap the words say moves a fixed-time fire: the fire on that day is at the named local time."""
    zone = "Europe/Berlin"
    start = datetime(2027, 1, 1, tzinfo=UTC)
    fires = cron.next_fires("30 2 * * *", zone, start, 365)
    items = explain.transitions("30 2 * * *", zone, start, fires)
    assert [(t.date, t.kind.value) for t in items] == [("2027-03-28", "gap"), ("2027-10-31", "overlap")]
    local = [f.astimezone(ZoneInfo(zone)) for f in fires]
    assert [f.strftime("%H:%M") for f in local if f.date().isoformat() == "2027-03-28"] == ["03:00"]
    assert [f.strftime("%H:%M") for f in local if f.date().isoformat() == "2027-10-31"] == ["02:30"]


@pytest.mark.parametrize("expression,code,text", [
    ("0 0 13 * 5", "dom_dow_either", "day-of-month (13) and day-of-week (5) are both restricted: the job runs when "
     "either matches, not only when both do"),
    ("*/7 * * * *", "uneven_step", "*/7 minutes: gaps of 7 and 4 minutes at the hour"),
    ("0 */5 * * *", "uneven_step", "*/5 hours: gaps of 5 and 4 hours at midnight"),
    ("0 0 31 * *", "missing_days", "day 31 does not exist in Feb, Apr, Jun, Sep and Nov: no run at all in Feb, "
     "Apr, Jun, Sep and Nov"),
    ("0 0 30,31 2,3 *", "missing_days", "days 30 and 31 do not exist in Feb: no run at all in Feb"),
    ("0 0 29 2 *", "missing_days", "day 29 exists in Feb only in leap years"),
])
def test_it_names_each_warning(client, owner, expression, code, text):
    out = preview(client, owner, expression)
    assert {"code": code, "text": text} in out["warnings"], out["warnings"]


@pytest.mark.parametrize("expression", ["*/5 * * * *", "*/7 9 * * *", "0 0 1-15 * *", "10-50/20 * * * *",
                                        "0 0 * * 1-5"])
def test_plain_expressions_have_no_warning(client, owner, expression):
    assert preview(client, owner, expression)["warnings"] == []


def test_overlap_risk_needs_the_jobs_observed_p95(app, client, owner):
    job = create(client, owner, cron_expression="*/5 * * * *", endpoint_url="https://example.com/x")
    assert preview(client, owner, "*/5 * * * *", job_id=job["id"])["warnings"] == []  # no runs: nothing to judge
    record_durations(app, job["id"], [400_000] * 20)  # runs of ~6.7 minutes, every 5 minutes
    out = preview(client, owner, "*/5 * * * *", job_id=job["id"])
    [warning] = out["warnings"]
    assert warning["code"] == "overlap_risk" and "5 min apart" in warning["text"].replace("5.0 min", "5 min")
    assert preview(client, owner, "0 * * * *", job_id=job["id"])["warnings"] == []  # hourly: room enough
