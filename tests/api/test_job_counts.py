"""The job counters (migration 0010's triggers) against count(*) through every way jobs come and go, and the
list total and the per-user cap that read them (list and create at a million jobs)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import make_config, run_sql
from tests.helpers import create


def _counters(app) -> dict[str, int]:
    rows = run_sql(app, "SELECT owner_id, jobs FROM job_counts WHERE jobs <> 0")
    return {owner_id: jobs for owner_id, jobs in rows}


def _counted(app) -> dict[str, int]:
    return dict(run_sql(app, "SELECT owner_id, count(*) FROM cron_jobs GROUP BY owner_id"))


def test_counters_follow_create_delete_bulk_delete_transfer_and_a_users_cascade(app, client, admin, owner, outsider):
    jobs = [create(client, owner, name=f"o{i}", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
            for i in range(4)]
    create(client, outsider, name="x", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    assert _counters(app) == _counted(app) == {owner.id: 4, outsider.id: 1}

    assert client.delete(f"/api/v1/cron/{jobs[0]['id']}", headers=owner.headers).status_code == 204
    resp = client.post("/api/v1/cron/bulk-delete", json={"ids": [jobs[1]["id"], jobs[2]["id"]]},
                       headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    assert _counters(app) == _counted(app) == {owner.id: 1, outsider.id: 1}

    resp = client.patch(f"/api/v1/cron/{jobs[3]['id']}", json={"owner_id": outsider.id}, headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()
    assert _counters(app) == _counted(app) == {outsider.id: 2}

    run_sql(app, "DELETE FROM users WHERE id = :id", id=outsider.id)  # the cascade removes their jobs
    assert _counters(app) == _counted(app) == {}


def test_a_bulk_insert_is_counted_per_owner_in_one_statement(app, owner, outsider):
    run_sql(app, """
        INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method, headers,
          query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s, alert_after_failures,
          on_exhausted, auto_reschedule, owner_id, created_by, status, consecutive_failures, created_at, updated_at)
        SELECT gen_random_uuid()::text, 'bulk', '', '0 3 * * *', 'UTC', 'https://x.test/', 'GET', '{}', '{}', true,
          0, 30000, 'allow', 60, 3, NULL, 'off', CASE WHEN n % 3 = 0 THEN :a ELSE :b END, NULL, 'PENDING', 0,
          now(), now()
        FROM generate_series(1, 300) AS n""", a=outsider.id, b=owner.id)
    assert _counters(app) == _counted(app) == {outsider.id: 100, owner.id: 200}


def test_the_unfiltered_list_total_comes_from_the_counters_and_filtered_totals_are_counted(
        app, client, admin, owner, outsider):
    for i in range(3):
        create(client, owner, name=f"alpha{i}", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    create(client, outsider, name="beta", cron_expression="0 3 * * *", endpoint_url="https://x.test/",
           is_active=False)

    def total(persona, query: str = "") -> int:
        resp = client.get(f"/api/v1/cron?per_page=1{query}", headers=persona.headers)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["total"]

    assert (total(owner), total(outsider), total(admin)) == (3, 1, 4)
    assert (total(admin, f"&owner_id={owner.id}"), total(owner, f"&owner_id={outsider.id}")) == (3, 0)
    assert (total(admin, "&q=alpha"), total(admin, "&is_active=false"), total(owner, "&q=beta")) == (3, 1, 0)
    run_sql(app, "UPDATE job_counts SET jobs = 99 WHERE owner_id = :id", id=owner.id)  # proves where it reads
    assert (total(owner), total(owner, "&q=alpha")) == (99, 3)


def test_the_job_cap_reads_the_counter(app, client, owner):
    app.config["MAX_JOBS_PER_OWNER"], saved = 2, app.config["MAX_JOBS_PER_OWNER"]
    try:
        for i in range(2):
            create(client, owner, name=f"j{i}", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
        resp = client.post("/api/v1/cron", json={"name": "third", "cron_expression": "0 3 * * *",
                                                 "endpoint_url": "https://x.test/"}, headers=owner.headers)
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "limit_reached"
    finally:
        app.config["MAX_JOBS_PER_OWNER"] = saved


def test_the_sqlite_triggers_keep_the_same_counts(tmp_path, redis_prefix, keep_limiter):
    from cronmanager import create_app
    from cronmanager.extensions import db

    url = f"sqlite:///{tmp_path / 'counts.sqlite'}"
    cfg = make_config(url, redis_prefix)
    cfg.SQLALCHEMY_DATABASE_URI = url
    sqlite_app = create_app(cfg)
    assert sqlite_app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with sqlite_app.app_context():
        def run(sql: str, **params: object) -> None:
            db.session.execute(text(sql), params)
            db.session.commit()

        for uid in ("u1", "u2"):
            run("INSERT INTO users (id, email, password_hash, role, timezone, is_active, created_at, updated_at)"
                " VALUES (:id, :id || '@x.test', 'x', 'USER', 'UTC', 1, '2026-01-01', '2026-01-01')", id=uid)
        for k in range(5):
            run("INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,"
                " headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,"
                " alert_after_failures, on_exhausted, auto_reschedule, owner_id, status, consecutive_failures,"
                " created_at, updated_at) VALUES (:id, 'j', '', '0 3 * * *', 'UTC', 'https://x.test/', 'GET', '{}',"
                " '{}', 1, 0, 30000, 'allow', 60, 3, NULL, 'off', :owner, 'PENDING', 0, '2026-01-01', '2026-01-01')",
                id=f"j{k}", owner="u1" if k < 4 else "u2")
        run("DELETE FROM cron_jobs WHERE id IN ('j0', 'j1')")
        run("UPDATE cron_jobs SET owner_id = 'u2' WHERE id = 'j2'")
        run("UPDATE cron_jobs SET name = 'renamed'")  # not an owner change: no effect
        counters = dict(db.session.execute(text("SELECT owner_id, jobs FROM job_counts")).all())
        counted = dict(db.session.execute(text("SELECT owner_id, count(*) FROM cron_jobs GROUP BY owner_id")).all())
        db.engine.dispose()
    assert counters == counted == {"u1": 1, "u2": 2}
