"""GET /cron/<id>/health and the job list's include=health / sort=health, on a job with a known history."""

from __future__ import annotations

from cronmanager.lib.histogram import bucket_of, upper_bound
from tests.conftest import bearer, make_token
from tests.health.conftest import Run, rank, record
from tests.helpers import create


def test_it_reports_exactly_the_recorded_history(client, owner, history):
    job, _ = history
    resp = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    h = resp.get_json()
    durations = [100, 200, 300, 400, 1000, 100]  # the six runs
    assert h["window"] == "24h"
    assert (h["runs"], h["failures"], h["success_rate"]) == (6, 1, 83.33)
    assert h["duration_ms"] == {"p50": upper_bound(bucket_of(200)), "p95": 1000, "max": 1000}
    assert sorted(durations)[2] == 200  # nearest rank 3 of 6
    # first scheduled attempts only: the retry's 90 s lag is not a start lag
    assert h["lag_ms"] == {"p50": upper_bound(bucket_of(500)), "p99": upper_bound(bucket_of(2000))}
    assert h["slots"] == {"expected": 10, "fired": 6, "skipped": 1, "missed": 2}
    assert h["slo"] is None
    assert h["anomalies"] == []


def test_the_week_and_month_windows_hold_the_same_history(client, owner, history):
    job, _ = history
    for window in ("7d", "30d"):
        h = client.get(f"/api/v1/cron/{job['id']}/health?window={window}", headers=owner.headers).get_json()
        assert (h["window"], h["runs"], h["slots"]["expected"]) == (window, 6, 10)


def test_an_unknown_window_is_refused_naming_the_field(client, owner, history):
    job, _ = history
    resp = client.get(f"/api/v1/cron/{job['id']}/health?window=1y", headers=owner.headers)
    assert resp.status_code == 422
    assert "window" in resp.get_data(as_text=True)


def test_a_job_the_caller_may_not_see_is_not_found(client, owner, outsider, readonly, history):
    job, _ = history
    hidden = client.get(f"/api/v1/cron/{job['id']}/health", headers=outsider.headers)
    missing = client.get("/api/v1/cron/00000000-0000-4000-8000-000000000000/health", headers=outsider.headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    assert client.get(f"/api/v1/cron/{job['id']}/health", headers=readonly.headers).status_code == 200


def test_a_token_without_the_read_scope_is_refused(client, owner, history):
    job, _ = history
    token = make_token(client, owner, ["execute"])
    assert client.get(f"/api/v1/cron/{job['id']}/health", headers=bearer(token)).status_code == 403


def test_the_list_includes_the_week_health_on_request(client, owner, history):
    job, _ = history
    plain = client.get("/api/v1/cron", headers=owner.headers).get_json()
    assert "health" not in plain["items"][0]
    items = client.get("/api/v1/cron?include=health", headers=owner.headers).get_json()["items"]
    assert items[0]["id"] == job["id"]
    assert items[0]["health"]["window"] == "7d"
    assert items[0]["health"]["runs"] == 6
    assert items[0]["health"]["slots"]["missed"] == 2
    assert client.get("/api/v1/cron?include=everything", headers=owner.headers).status_code == 422


def test_sort_by_health_puts_the_worst_first(app, client, owner, history):
    flaky, s = history
    good = create(client, owner, name="good", cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/y")
    bad = create(client, owner, name="bad", cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/z")
    unknown = create(client, owner, name="never ran", cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/w")
    record(app, good["id"], [Run(s[0], "SUCCESS")])
    record(app, bad["id"], [Run(s[0], "FAILED"), Run(s[1], "FAILED"), Run(s[2], "SUCCESS")])
    rank(app)
    resp = client.get("/api/v1/cron?sort=health&include=health", headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    order = [i["id"] for i in resp.get_json()["items"]]
    assert order == [bad["id"], flaky["id"], good["id"], unknown["id"]]
    page = client.get("/api/v1/cron?sort=health&per_page=2&page=2", headers=owner.headers).get_json()
    assert [i["id"] for i in page["items"]] == [good["id"], unknown["id"]]
    assert page["total"] == 4
