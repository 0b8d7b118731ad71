"""Edit preview (SPEC §21): `PUT|PATCH /cron/<id>?dry_run=true` validates like the real call and changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import run_sql
from tests.helpers import create

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "timezone": "UTC",
       "endpoint_url": "https://billing.example.com/close"}


def _state(app, job_id: str) -> dict:
    """Everything a change would touch: the row, its versions, schedule history and audit changes."""
    return {
        "row": run_sql(app, "SELECT cron_expression, timezone, name, version, updated_at, next_run_at, "
                            "assertions::text FROM cron_jobs WHERE id = :j", j=job_id),
        "versions": run_sql(app, "SELECT count(*) FROM job_versions WHERE cron_job_id = :j", j=job_id),
        "schedule_changes": run_sql(app, "SELECT count(*) FROM schedule_changes WHERE cron_job_id = :j", j=job_id),
        "audited_changes": run_sql(app, "SELECT count(*) FROM audit_logs WHERE resource_id = :j "
                                   "AND changes IS NOT NULL AND changes::text <> 'null'", j=job_id),
    }


@pytest.mark.parametrize("method", ["patch", "put"])
def test_it_answers_the_job_as_it_would_be_and_changes_nothing(app, client, owner, method):
    job = create(client, owner, **JOB)
    before = _state(app, job["id"])
    resp = getattr(client, method)(f"/api/v1/cron/{job['id']}?dry_run=true", headers=owner.headers, json={
        "cron_expression": "0 6 * * *", "name": "morning", "reason": "later",
        "assertions": [{"type": "body_contains", "value": "ok"}]})
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert set(out) == {"job", "fires_before", "fires_after"}
    assert out["job"]["cron_expression"] == "0 6 * * *" and out["job"]["name"] == "morning"
    assert out["job"]["version"] == job["version"] + 1 and out["job"]["assertions"][0]["value"] == "ok"
    assert len(out["fires_before"]) == len(out["fires_after"]) == 10
    assert all(f[11:19] == "02:00:00" and f.endswith("Z") for f in out["fires_before"])
    assert all(f[11:19] == "06:00:00" for f in out["fires_after"])
    assert out["job"]["next_run_at"] == out["fires_after"][0]
    assert _state(app, job["id"]) == before
    audit = run_sql(app, "SELECT action FROM audit_logs WHERE resource_id = :j ORDER BY id DESC LIMIT 1", j=job["id"])
    assert audit[0][0] == "cron.update_dry_run"
    assert client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()["name"] == "nightly"


def test_it_refuses_what_the_real_call_refuses(app, client, owner, outsider):
    job = create(client, owner, **JOB)
    before = _state(app, job["id"])
    for body, field in [({"cron_expression": "61 * * * *"}, "cron_expression"),
                        ({"assertions": [{"type": "body_regex", "pattern": "(("}]}, "assertions[0].pattern"),
                        ({"timezone": "Mars/Olympus"}, "timezone")]:
        dry = client.patch(f"/api/v1/cron/{job['id']}?dry_run=true", json=body, headers=owner.headers)
        real = client.patch(f"/api/v1/cron/{job['id']}", json=body, headers=owner.headers)
        assert dry.status_code == real.status_code == 422
        assert field in dry.get_json()["error"]["fields"] and dry.get_json() == real.get_json()
    assert client.patch(f"/api/v1/cron/{job['id']}?dry_run=true", json={"name": "x"},
                        headers=outsider.headers).status_code == 404
    assert _state(app, job["id"]) == before


def test_a_disabled_job_has_no_fires(client, owner):
    job = create(client, owner, **JOB, is_active=False)
    out = client.patch(f"/api/v1/cron/{job['id']}?dry_run=true", json={"is_active": True},
                       headers=owner.headers).get_json()
    assert out["fires_before"] == [] and len(out["fires_after"]) == 10
