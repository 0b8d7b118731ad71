"""Jobs as code (SPEC §17): export, import plan/apply, all or nothing, prune, secrets, ownership."""

from __future__ import annotations

import json
import threading

import pytest
import yaml
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.lib.redis_keys import RedisKeys
from cronmanager.models import AuditLog, CronJob, ScheduleChange
from cronmanager.secrets import vault
from tests.conftest import Persona, bearer, make_config, make_token, run_sql

YAML = {"Content-Type": "application/yaml"}
SECRET = "s3cr3t-value-never-shown"


def create(client, persona, **fields) -> dict:
    body = {"name": "job", "cron_expression": "*/5 * * * *", "endpoint_url": "http://127.0.0.1:9/hook", **fields}
    resp = client.post("/api/v1/cron", json=body, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def seed(client, persona) -> None:
    """Jobs that use every kind of field: secrets, a multi-line body, statuses, a disabled one."""
    create(client, persona, name="nightly billing", cron_expression="0 2 * * *", timezone="Europe/Berlin",
           http_method="POST", headers={"Authorization": f"Bearer {SECRET}", "X-Team": "billing"},
           body='{\n  "close": true\n}', retry_count=3, timeout_ms=10000, expected_statuses=[200, 204],
           description="Close the day.\nSecond line.")
    create(client, persona, name="api ping", query_params={"api_key": SECRET, "region": "eu"},
           concurrency_policy="forbid", misfire_grace_s=120, alert_after_failures=5, auto_disable=True)
    create(client, persona, name="disabled one", is_active=False, endpoint_url=f"http://bot:{SECRET}@127.0.0.1:9/x")


def export(client, persona, fmt: str = "yaml", **params) -> str:
    resp = client.get("/api/v1/cron/export", query_string={"format": fmt, **params}, headers=persona.headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data(as_text=True)


def import_doc(client, persona, document: str | dict, mode: str = "plan", headers: dict | None = None,
               **params):
    if isinstance(document, dict):
        data, content = json.dumps(document), {"Content-Type": "application/json"}
    else:
        data, content = document, YAML
    return client.post("/api/v1/cron/import", query_string={"mode": mode, **params}, data=data,
                       headers={**(headers or persona.headers), **content})


def jobs_table(app) -> list:
    return run_sql(app, "SELECT name, cron_expression, headers, query_params, endpoint_url, description, "
                        "is_active, next_run_at, updated_at FROM cron_jobs ORDER BY name")


def assert_round_trip(client, persona) -> None:
    first = export(client, persona)
    assert export(client, persona) == first  # byte-identical when nothing changed
    for document in (first, json.loads(export(client, persona, "json"))):
        resp = import_doc(client, persona, document)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json() == {"create": [], "update": [], "delete": [], "unchanged": 3, "errors": []}
    applied = import_doc(client, persona, first, "apply", prune="true")
    assert applied.status_code == 200 and applied.get_json()["unchanged"] == 3
    assert export(client, persona) == first


def test_it_exports_the_spec_fields_sorted_by_name_with_secrets_masked(client, owner):
    seed(client, owner)
    text = export(client, owner)
    assert SECRET not in text
    document = yaml.safe_load(text)
    assert document["version"] == 1
    assert [j["name"] for j in document["jobs"]] == ["api ping", "disabled one", "nightly billing"]
    from cronmanager.jobs.portable import PORTABLE_FIELDS

    assert all(list(j) == list(PORTABLE_FIELDS) for j in document["jobs"])
    billing = document["jobs"][2]
    assert billing["headers"] == {"Authorization": "***", "X-Team": "billing"}
    assert billing["body"] == '{\n  "close": true\n}' and "body: |" in text  # multi-line text as a block
    assert document["jobs"][0]["query_params"] == {"api_key": "***", "region": "eu"}
    assert document["jobs"][1]["endpoint_url"] == "http://***@127.0.0.1:9/x"  # userinfo whole (the vault)
    assert SECRET not in export(client, owner, "json")


def test_it_round_trips_to_an_empty_plan_on_postgresql(client, owner):
    seed(client, owner)
    assert_round_trip(client, owner)


def test_it_round_trips_to_an_empty_plan_on_sqlite(tmp_path, redis_prefix, keep_limiter):
    from cronmanager import create_app

    cfg = make_config("sqlite:///unused", redis_prefix)
    cfg.SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'portable.sqlite'}"
    lite = create_app(cfg)
    assert lite.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    persona = Persona(lite, "lite@example.com", "USER")
    client = lite.test_client()
    seed(client, persona)
    assert_round_trip(client, persona)
    with lite.app_context():
        assert db.engine.dialect.name == "sqlite"
        db.session.remove()
        db.engine.dispose()


def test_plan_changes_nothing_and_apply_does_what_it_planned(app, client, owner):
    seed(client, owner)
    document = yaml.safe_load(export(client, owner))
    document["jobs"][0]["cron_expression"] = "*/10 * * * *"  # api ping
    document["jobs"][2]["headers"]["X-Team"] = "finance"  # nightly billing, secret header kept as ***
    document["jobs"].remove(document["jobs"][1])  # disabled one: stays without prune
    document["jobs"].append({"name": "new one", "cron_expression": "15 * * * *",
                             "endpoint_url": "http://127.0.0.1:9/new"})
    before = jobs_table(app)
    planned = import_doc(client, owner, document)
    assert planned.status_code == 200
    plan = planned.get_json()
    assert plan == {
        "create": ["new one"],
        "update": [{"name": "api ping", "changes": {"cron_expression": ["*/5 * * * *", "*/10 * * * *"]}},
                   {"name": "nightly billing", "changes": {"headers": [
                       {"Authorization": "***", "X-Team": "billing"},
                       {"Authorization": "***", "X-Team": "finance"}]}}],
        "delete": [], "unchanged": 0, "errors": [],
    }
    assert jobs_table(app) == before

    applied = import_doc(client, owner, document, "apply")
    assert applied.status_code == 200 and applied.get_json() == plan
    with app.app_context():
        jobs = {j.name: j for j in db.session.execute(select(CronJob)).scalars()}
        assert set(jobs) == {"api ping", "disabled one", "nightly billing", "new one"}
        assert vault.revealed(jobs["nightly billing"])["headers"] == {"Authorization": f"Bearer {SECRET}",
                                                                      "X-Team": "finance"}
        assert jobs["api ping"].cron_expression == "*/10 * * * *"
        assert jobs["new one"].next_run_at is not None and jobs["new one"].next_run_at.minute == 15
        assert jobs["api ping"].next_run_at.minute % 10 == 0
        reasons = {(c.cron_job_id, c.reason) for c in db.session.execute(select(ScheduleChange)).scalars()}
        assert (jobs["api ping"].id, "import") in reasons and (jobs["new one"].id, "import") in reasons
        audit = db.session.execute(select(AuditLog).where(AuditLog.action == "cron.import")).scalars().all()
        assert [(a.response_status, a.request_payload["mode"], a.request_payload["counts"]["update"])
                for a in audit] == [(200, "plan", 2), (200, "apply", 2)]
        db.session.remove()
    again = import_doc(client, owner, document).get_json()
    assert again["create"] == again["update"] == [] and again["unchanged"] == 3


def test_apply_publishes_an_event_per_changed_job(app, client, owner):
    seed(client, owner)
    document = yaml.safe_load(export(client, owner))
    document["jobs"] = [{**document["jobs"][0], "cron_expression": "*/10 * * * *"},
                        {"name": "new one", "cron_expression": "15 * * * *", "endpoint_url": "http://127.0.0.1:9/new"}]
    r = app.extensions["redis"]
    key = RedisKeys(app.config['REDIS_PREFIX']).events_stream
    start = r.xrevrange(key, count=1)
    after = start[0][0].decode() if start else "0"
    assert import_doc(client, owner, document, "apply", prune="true").status_code == 200
    events = [json.loads(fields[b"e"]) for _, fields in r.xrange(key, min=f"({after}")]
    seen = sorted((e["type"], e["data"]["name"]) for e in events)
    assert seen == [("cron:created", "new one"), ("cron:deleted", "disabled one"), ("cron:deleted", "nightly billing"),
                    ("cron:updated", "api ping"), ("schedule:changed", "api ping")]
    assert all(e["owner_id"] == owner.id for e in events)


def test_apply_is_all_or_nothing(app, client, owner):
    create(client, owner, name="job 000", cron_expression="0 * * * *")
    jobs = [{"name": f"job {i:03}", "cron_expression": "*/5 * * * *", "endpoint_url": f"http://127.0.0.1:9/{i}"}
            for i in range(50)]
    jobs[37]["cron_expression"] = "61 * * * *"
    before = jobs_table(app)
    resp = import_doc(client, owner, {"version": 1, "jobs": jobs}, "apply")
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["error"]["code"] == "validation_error"
    assert [e["name"] for e in body["errors"]] == ["job 037"]
    assert "cron_expression" in body["errors"][0]["fields"]
    assert "job 037.cron_expression" in body["error"]["fields"]
    assert jobs_table(app) == before
    assert run_sql(app, "SELECT count(*) FROM schedule_changes")[0][0] == 1
    assert run_sql(app, "SELECT response_status FROM audit_logs WHERE action = 'cron.import'") == [(422,)]

    jobs[37]["cron_expression"] = "1 * * * *"
    resp = import_doc(client, owner, {"version": 1, "jobs": jobs}, "apply")
    assert resp.status_code == 200
    assert len(resp.get_json()["create"]) == 49 and resp.get_json()["update"][0]["name"] == "job 000"
    assert run_sql(app, "SELECT count(*) FROM cron_jobs WHERE next_run_at IS NOT NULL")[0][0] == 50


def test_prune_deletes_jobs_missing_from_the_document_and_needs_the_delete_scope(app, client, owner):
    seed(client, owner)
    document = yaml.safe_load(export(client, owner))
    document["jobs"] = [j for j in document["jobs"] if j["name"] == "api ping"]
    assert import_doc(client, owner, document).get_json()["delete"] == []
    plan = import_doc(client, owner, document, prune="true").get_json()
    assert plan["delete"] == ["disabled one", "nightly billing"] and plan["unchanged"] == 1

    writer = make_token(client, owner, ["read", "write"])
    resp = import_doc(client, owner, document, "apply", headers=bearer(writer), prune="true")
    assert resp.status_code == 403 and "delete" in resp.get_json()["error"]["message"]
    assert len(jobs_table(app)) == 3

    resp = import_doc(client, owner, document, "apply", prune="true")
    assert resp.status_code == 200
    assert [row[0] for row in jobs_table(app)] == ["api ping"]


def test_secrets_are_never_exported_and_stars_keep_them(app, client, owner):
    seed(client, owner)
    text = export(client, owner)
    edited = text.replace("Close the day.", "Close the day, now.")
    plan = import_doc(client, owner, edited, "apply").get_json()
    assert [u["name"] for u in plan["update"]] == ["nightly billing"]
    assert SECRET not in json.dumps(plan)
    rows = {r[0]: r for r in jobs_table(app)}
    assert SECRET not in json.dumps(rows, default=str)  # the columns hold ***, the vault the values
    with app.app_context():
        opened = {job.name: vault.opened(job) for job in db.session.execute(select(CronJob)).scalars()}
    assert opened["nightly billing"] == {"headers.Authorization": f"Bearer {SECRET}"}
    assert opened["api ping"] == {"query_params.api_key": SECRET}
    assert opened["disabled one"] == {"endpoint_url.userinfo": f"bot:{SECRET}"}
    audit = run_sql(app, "SELECT request_payload FROM audit_logs WHERE action = 'cron.import'")
    assert SECRET not in json.dumps([a[0] for a in audit])

    # a new value for a secret shows as changed, never in clear
    document = yaml.safe_load(text)
    document["jobs"][2]["headers"]["Authorization"] = "Bearer rotated"
    change = import_doc(client, owner, document).get_json()["update"][0]["changes"]["headers"]
    assert change == [{"Authorization": "***", "X-Team": "billing"}, {"Authorization": "*** (changed)",
                                                                      "X-Team": "billing"}]
    # *** cannot invent a secret: a new job has none to keep, nor does a new destination
    document = yaml.safe_load(text)
    document["jobs"][2]["name"] = "renamed billing"
    document["jobs"][1]["endpoint_url"] = "http://***@127.0.0.2:9/x"
    errors = import_doc(client, owner, document).get_json()["errors"]
    assert errors == [  # the same fields and words as PUT's 422/409
        {"name": "disabled one", "fields": {
            "endpoint_url.userinfo": "the destination (scheme, host or port) changed: send this secret again"}},
        {"name": "renamed billing", "fields": {
            "headers.Authorization": "no stored secret to keep: send the value"}},
    ]


def test_a_user_cannot_import_into_someone_elses_jobs(app, client, owner, outsider, admin):
    seed(client, owner)
    document = export(client, owner)
    before = jobs_table(app)
    resp = import_doc(client, outsider, document, "apply", owner_id=owner.id)
    assert resp.status_code == 403
    resp = client.get("/api/v1/cron/export", query_string={"owner_id": owner.id}, headers=outsider.headers)
    assert resp.status_code == 403
    # the same names land in the outsider's own account; *** has nothing to keep there
    plan = import_doc(client, outsider, document).get_json()
    assert plan["update"] == [] and {e["name"] for e in plan["errors"]} == {
        "api ping", "disabled one", "nightly billing"}
    assert jobs_table(app) == before

    # an ADMIN can, with the admin scope; a token without it cannot
    no_admin = make_token(client, admin, ["read", "write"])
    assert import_doc(client, admin, document, headers=bearer(no_admin), owner_id=owner.id).status_code == 403
    plan = import_doc(client, admin, document, owner_id=owner.id).get_json()
    assert plan["unchanged"] == 3
    created = import_doc(client, admin, {"version": 1, "jobs": [
        {"name": "for owner", "cron_expression": "0 3 * * *", "endpoint_url": "http://127.0.0.1:9/o"}]},
        "apply", owner_id=owner.id)
    assert created.status_code == 200
    assert run_sql(app, "SELECT owner_id, created_by FROM cron_jobs WHERE name = 'for owner'") == [
        (owner.id, admin.id)]
    everything = yaml.safe_load(export(client, admin))
    assert len(everything["jobs"]) == 4
    assert import_doc(client, owner, document, headers=readonly_headers(client, app)).status_code == 403


def readonly_headers(client, app) -> dict:
    return Persona(app, "ro@example.com", "READ_ONLY").headers


@pytest.mark.parametrize(("document", "status", "field"), [
    ("base: &b {name: x}\nversion: 1\njobs: [*b]\n", 400, "document"),
    ("version: 1\njobs: [{name: a, cron_expression: '* * * * *'\n", 400, "document"),
    ("- 1\n- 2\n", 422, "document"),
    ("version: 2\njobs: []\n", 422, "version"),
    ("version: 1\njobs: {}\n", 422, "jobs"),
    ("version: 1\njobs: []\nextra: 1\n", 422, "extra"),
    ("!!python/object/apply:os.system ['true']\n", 400, "document"),
])
def test_it_refuses_bad_documents(client, owner, document, status, field):
    resp = import_doc(client, owner, document)
    assert resp.status_code == status, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]


def test_it_refuses_an_alias_bomb_and_oversized_or_unknown_bodies(client, owner):
    bomb = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8))
    resp = import_doc(client, owner, bomb)
    assert resp.status_code == 400 and "aliases" in resp.get_json()["error"]["message"]
    big = "version: 1\njobs: []\n# " + "x" * (1024 * 1024) + "\n"
    assert import_doc(client, owner, big).status_code == 413
    resp = client.post("/api/v1/cron/import", data="version: 1", headers={**owner.headers,
                                                                          "Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_it_reports_errors_per_job_and_field(client, owner):
    create(client, owner, name="twin")
    create(client, owner, name="twin")
    resp = import_doc(client, owner, {"version": 1, "jobs": [
        {"name": "dup", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/"},
        {"name": "dup", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/"},
        {"name": "twin", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/"},
        {"name": "bad", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/", "retry_count": 11,
         "http_method": "FETCH", "owner_id": "x"},
        {"name": "zone", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/",
         "timezone": "Mars/Base"},
        "not a job",
        {"name": "ok", "cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/"},
    ]})
    assert resp.status_code == 200
    plan = resp.get_json()
    errors = {e["name"]: e["fields"] for e in plan["errors"]}
    assert set(errors) == {"dup", "twin", "bad", "zone", "jobs[5]"}
    assert "2 times" in errors["dup"]["name"] and "2 existing" in errors["twin"]["name"]
    assert set(errors["bad"]) == {"retry_count", "http_method", "owner_id"}
    assert set(errors["zone"]) == {"timezone"}
    assert plan["create"] == ["ok"]


def test_two_applies_at_once_never_create_a_name_twice(app, owner):
    jobs = [{"name": f"race {i:02}", "cron_expression": "0 * * * *", "endpoint_url": f"http://127.0.0.1:9/{i}"}
            for i in range(40)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def apply() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(import_doc(client, owner, {"version": 1, "jobs": jobs}, "apply").status_code)

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200, 200]
    assert run_sql(app, "SELECT count(*), count(DISTINCT name) FROM cron_jobs") == [(40, 40)]


def test_the_job_cap_is_checked_for_the_whole_document(app, client, owner):
    create(client, owner, name="old 1")
    create(client, owner, name="old 2")
    jobs = [{"name": f"new {i}", "cron_expression": "0 * * * *", "endpoint_url": "http://127.0.0.1:9/"}
            for i in range(3)]
    saved = app.config.get("MAX_JOBS_PER_OWNER")
    app.config["MAX_JOBS_PER_OWNER"] = 4
    try:
        resp = import_doc(client, owner, {"version": 1, "jobs": jobs}, "apply")
        assert resp.status_code == 422
        assert resp.get_json()["errors"] == [{"name": "(document)", "fields": {
            "jobs": "the import would leave 5 jobs; the limit is 4"}}]
        resp = import_doc(client, owner, {"version": 1, "jobs": jobs}, "apply", prune="true")  # deletes count
        assert resp.status_code == 200, resp.get_json()
        assert [r[0] for r in jobs_table(app)] == ["new 0", "new 1", "new 2"]
        app.config["MAX_JOBS_PER_OWNER"] = 3  # at the cap: replacing every job still fits
        others = [{**j, "name": j["name"].replace("new", "other")} for j in jobs]
        resp = import_doc(client, owner, {"version": 1, "jobs": others}, "apply", prune="true")
        assert resp.status_code == 200, resp.get_json()
        assert [r[0] for r in jobs_table(app)] == ["other 0", "other 1", "other 2"]
    finally:
        if saved is None:
            app.config.pop("MAX_JOBS_PER_OWNER")
        else:
            app.config["MAX_JOBS_PER_OWNER"] = saved
