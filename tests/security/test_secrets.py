"""Write-only, encrypted job secrets (SPEC §6): attacked through the API, the dashboard, the worker and the dump."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import run_sql
from tests.stack import Proc, process_env, start_target, wait_for

AUTH = "Bearer sk-live-9f8e7d6c5b4a"
API_KEY = "k3y-0f-the-c1ty"
PARAM = "q-s3cr3t-4242"
PASSWORD = "p4ss-w0rd-7777"
URL_TOKEN = "u-t0ken-1313"
SECRETS = (AUTH, API_KEY, PARAM, PASSWORD, URL_TOKEN)


@pytest.fixture
def target() -> Iterator:
    t = start_target()
    yield t
    t.close()


def _job_body(target_url: str, **extra: object) -> dict:
    host = target_url.removeprefix("http://")
    return {"name": "billing", "cron_expression": "0 3 * * *", "http_method": "POST",
            "endpoint_url": f"http://svc:{PASSWORD}@{host}/echo?token={URL_TOKEN}&plain=1",
            "headers": {"X-Auth-Token": AUTH, "X-Api-Key": API_KEY, "X-Trace": "on"},
            "query_params": {"api_key": PARAM, "page": "1"}, **extra}


def _create(client, persona, target_url: str, **extra: object) -> dict:
    resp = client.post("/api/v1/cron", json=_job_body(target_url, **extra), headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _masked(job: dict, target_url: str) -> None:
    host = target_url.removeprefix("http://")
    assert job["headers"] == {"X-Auth-Token": "***", "X-Api-Key": "***", "X-Trace": "on"}
    assert job["query_params"] == {"api_key": "***", "page": "1"}
    assert job["endpoint_url"] == f"http://***@{host}/echo?token=***&plain=1"


def _all_text(app) -> str:
    """Every row of every table that could hold a secret, as text."""
    tables = ("cron_jobs", "audit_logs", "cron_executions", "schedule_changes", "notifications", "security_events")
    return "\n".join(str(row) for table in tables for row in run_sql(app, f"SELECT t::text FROM {table} t"))


def _redis_text(app) -> str:
    r = app.extensions["redis"]
    out = []
    for key in r.scan_iter(match=f"*{app.config['REDIS_PREFIX']}*"):
        kind = r.type(key)
        if kind == b"string":
            out.append(str(r.get(key)))
        elif kind == b"stream":
            out.append(str(r.xrange(key)))
        elif kind == b"list":
            out.append(str(r.lrange(key, 0, -1)))
        elif kind == b"hash":
            out.append(str(r.hgetall(key)))
    return "\n".join(out)


def _basic(userinfo: str) -> str:
    return "Basic " + base64.b64encode(userinfo.encode()).decode()


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


# ---- API: write-only for every role ----------------------------------------------------------------------------

def test_every_role_sees_stars_and_nothing_stores_a_secret_in_clear(app, client, owner, admin, readonly, target):
    job = _create(client, owner, target.url)
    _masked(job, target.url)
    for persona in (owner, admin, readonly):
        _masked(client.get(f"/api/v1/cron/{job['id']}?reveal=true", headers=persona.headers).get_json(), target.url)
        _masked(client.get("/api/v1/cron", headers=persona.headers).get_json()["items"][0], target.url)
    client.put(f"/api/v1/cron/{job['id']}", json={"name": "billing 2", "headers": {
        "X-Auth-Token": "***", "X-Api-Key": "***", "X-Trace": "off"}}, headers=owner.headers)
    assert _leaks(_all_text(app)) == []  # jobs, audit payloads, schedule changes
    assert _leaks(_redis_text(app)) == []  # SSE event stream and anything else under our prefix
    sealed = run_sql(app, "SELECT sealed_secrets FROM cron_jobs")[0][0]
    assert sealed.startswith("gAAAA")  # a Fernet token


def test_the_sealed_value_opens_with_the_configured_key_and_holds_every_secret(app, client, owner, target):
    from cronmanager.secrets.keyring import keyring

    _create(client, owner, target.url)
    sealed = run_sql(app, "SELECT sealed_secrets FROM cron_jobs")[0][0]
    with app.app_context():
        opened = json.loads(keyring().decrypt(sealed.encode()))
    assert opened == {"headers.X-Auth-Token": AUTH, "headers.X-Api-Key": API_KEY, "query_params.api_key": PARAM,
                      "endpoint_url.userinfo": f"svc:{PASSWORD}", "endpoint_url.query.token": [URL_TOKEN]}


def test_stars_sent_back_keep_the_stored_value_and_the_unsaved_test_uses_it(client, owner, target):
    job = _create(client, owner, target.url)
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={
        "endpoint_url": job["endpoint_url"].replace("/echo", "/echo/v2"),
        "headers": {"x-auth-token": "***", "X-Api-Key": "***", "X-Trace": "on"},
        "query_params": {"api_key": "***", "page": "2"}})
    assert resp.status_code == 200, resp.get_json()
    test = client.post("/api/v1/cron/test", headers=owner.headers, json={
        "job_id": job["id"], "endpoint_url": resp.get_json()["endpoint_url"], "http_method": "POST",
        "headers": {"X-Auth-Token": "***", "X-Api-Key": "***"}, "query_params": {"api_key": "***"}})
    assert test.status_code == 200 and test.get_json()["ok"], test.get_json()
    assert _leaks(json.dumps(test.get_json())) == []
    hit = target.hits_for("/echo/v2")[-1]
    assert hit.headers["X-Auth-Token"] == AUTH and hit.headers["X-Api-Key"] == API_KEY
    assert hit.headers["Authorization"] == _basic(f"svc:{PASSWORD}")  # the URL's userinfo
    assert hit.query == {"token": URL_TOKEN, "plain": "1", "api_key": PARAM}


@pytest.fixture
def mirror() -> Iterator[str]:
    """A target that echoes the request it got (headers and URL) in its body and in a response header."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
            self.send_response(200)
            self.send_header("X-Seen-Auth", self.headers.get("X-Auth-Token", ""))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_target_echoing_the_request_does_not_reveal_stored_secrets_through_the_test_route(client, owner, mirror):
    job = _create(client, owner, mirror, http_method="GET")
    resp = client.post("/api/v1/cron/test", headers=owner.headers, json={
        "job_id": job["id"], "endpoint_url": job["endpoint_url"],
        "headers": {"X-Auth-Token": "***", "X-Api-Key": "***"}, "query_params": {"api_key": "***"}})
    assert resp.status_code == 200 and resp.get_json()["ok"], resp.get_json()
    shown = json.dumps(resp.get_json())
    assert _leaks(shown) == [] and _basic(f"svc:{PASSWORD}").split()[1] not in shown
    assert resp.get_json()["response_headers"]["X-Seen-Auth"] == "***"
    assert "/echo?token=***" in resp.get_json()["response_body"]  # the rest of the echo is intact


def test_stars_without_a_stored_value_are_refused_naming_the_field(client, owner, target):
    resp = client.post("/api/v1/cron", headers=owner.headers,
                       json={**_job_body(target.url), "headers": {"X-Api-Key": "***"}})
    assert resp.status_code == 409
    assert set(resp.get_json()["error"]["fields"]) == {"headers.X-Api-Key"}


@pytest.mark.parametrize("new_base", ["https://{host}", "http://localhost:{port}", "http://{ip}:1"])
def test_a_new_destination_needs_the_secrets_again(client, owner, target, new_base):
    job = _create(client, owner, target.url)
    ip, port = target.url.removeprefix("http://").split(":")
    base = new_base.format(host=f"{ip}:{port}", ip=ip, port=port)
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"endpoint_url": f"{base}/echo"})
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {  # the URL's userinfo was dropped with it, not kept
        "headers.X-Auth-Token", "headers.X-Api-Key", "query_params.api_key"}
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={
        "endpoint_url": base.replace("://", "://***@") + "/echo"})
    assert resp.status_code == 422 and "endpoint_url.userinfo" in resp.get_json()["error"]["fields"]
    # sending them again (or dropping them) is what moves a job
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={
        "endpoint_url": f"{base}/echo", "headers": {"Authorization": "Bearer new"}, "query_params": {}})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["headers"] == {"Authorization": "***"}
    assert resp.get_json()["endpoint_url"] == f"{base}/echo"


def test_the_unsaved_test_cannot_carry_a_stored_secret_elsewhere(client, owner, target):
    job = _create(client, owner, target.url)
    resp = client.post("/api/v1/cron/test", headers=owner.headers, json={
        "job_id": job["id"], "endpoint_url": "http://localhost:9/steal", "headers": {"X-Auth-Token": "***"}})
    assert resp.status_code == 422 and "headers.X-Auth-Token" in resp.get_json()["error"]["fields"]
    assert not target.hits


def test_another_users_job_secrets_cannot_be_borrowed_by_the_test_route(client, owner, outsider, target):
    job = _create(client, owner, target.url)
    resp = client.post("/api/v1/cron/test", headers=outsider.headers, json={
        "job_id": job["id"], "endpoint_url": job["endpoint_url"], "headers": {"X-Auth-Token": "***"}})
    assert resp.status_code == 404 and not target.hits


# ---- dashboard: form, edit and clone ------------------------------------------------------------------------------

def _login(client, persona) -> None:
    resp = client.post("/login", data={"email": persona.email, "password": "correct horse battery"})
    assert resp.status_code in (302, 303), resp.data[:300]


def _form(job: dict, **overrides: object) -> dict:
    data = {"name": job["name"], "description": "", "cron_expression": job["cron_expression"],
            "timezone": job["timezone"], "endpoint_url": job["endpoint_url"], "http_method": job["http_method"],
            "body": "", "timeout_s": "30", "retry_count": "0", "concurrency_policy": "allow", "is_active": "y",
            "alert_after_failures": "3", "misfire_grace_s": "60", "expected_statuses": "",
            "header_key": list(job["headers"]), "header_value": list(job["headers"].values()),
            "param_key": list(job["query_params"]), "param_value": list(job["query_params"].values())}
    data.update(overrides)
    return data


def _sealed(app, job_id: str) -> dict:
    from cronmanager.extensions import db
    from cronmanager.models import CronJob
    from cronmanager.secrets import vault

    with app.app_context():
        return vault.opened(db.session.get(CronJob, job_id))


def test_the_dashboard_form_shows_stars_and_keeps_them_on_save(app, client, owner, target):
    job = _create(client, owner, target.url)
    _login(client, owner)
    for page in (f"/jobs/{job['id']}", f"/jobs/{job['id']}/edit", f"/jobs/new?clone={job['id']}"):
        html = client.get(page).get_data(as_text=True)
        assert "***" in html and _leaks(html) == [], page
    resp = client.post(f"/jobs/{job['id']}/edit", data=_form(job, name="renamed"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert _sealed(app, job["id"])["headers.X-Auth-Token"] == AUTH


def test_the_dashboard_refuses_a_new_destination_without_the_secrets(app, client, owner, target):
    job = _create(client, owner, target.url)
    _login(client, owner)
    resp = client.post(f"/jobs/{job['id']}/edit", data=_form(job, endpoint_url="http://localhost:1/x"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "X-Auth-Token" in html and "send this secret again" in html
    assert _sealed(app, job["id"])["headers.X-Auth-Token"] == AUTH


def test_a_clone_keeps_the_secrets_only_for_the_same_destination(app, client, owner, target):
    job = _create(client, owner, target.url)
    _login(client, owner)
    resp = client.post(f"/jobs/new?clone={job['id']}", data=_form(job, name="copy"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    copy_id = resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert _sealed(app, copy_id) == _sealed(app, job["id"])
    moved = client.post(f"/jobs/new?clone={job['id']}", data=_form(job, name="copy 2",
                                                                    endpoint_url="https://***@example.com/x"))
    assert moved.status_code == 422 and "send this secret again" in moved.get_data(as_text=True)
    assert run_sql(app, "SELECT count(*) FROM cron_jobs")[0][0] == 2


# ---- keys: derived, configured, rotated ------------------------------------------------------------------------

def test_rotation_re_encrypts_under_the_first_key_and_old_keys_can_then_go(app, client, owner, target, keep_limiter,
                                                                            database_url, redis_prefix):
    from cryptography.fernet import Fernet

    from cronmanager import create_app
    from tests.conftest import make_config

    job = _create(client, owner, target.url)  # sealed with the key derived from SECRET_KEY (no ENCRYPTION_KEY)
    before = run_sql(app, "SELECT sealed_secrets FROM cron_jobs")[0][0]
    new_key = Fernet.generate_key().decode()
    rotated_app = create_app(make_config(database_url, redis_prefix, ENCRYPTION_KEYS=[new_key]))
    result = rotated_app.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0 and "1 job" in result.output, result.output
    after = run_sql(app, "SELECT sealed_secrets FROM cron_jobs")[0][0]
    assert after != before
    assert json.loads(Fernet(new_key.encode()).decrypt(after.encode()))["headers.X-Auth-Token"] == AUTH
    only_new = create_app(make_config(database_url, redis_prefix, ENCRYPTION_KEYS=[new_key],
                                      SECRET_KEY="another secret key entirely"))
    assert _sealed(only_new, job["id"])["headers.X-Api-Key"] == API_KEY


def test_a_malformed_encryption_key_stops_the_start_naming_the_variable(monkeypatch):
    from config import ConfigError, TestingConfig

    monkeypatch.setenv("ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY: key 1 is not a Fernet key"):
        TestingConfig()


# ---- the worker opens them only for the request; the dump shows none ----------------------------------------------

@pytest.mark.slow
def test_the_worker_sends_the_real_values_and_the_dump_holds_none_in_clear(app, client, owner, target, mirror,
                                                                          database_url, redis_prefix, tmp_path):
    from tests.conftest import TEST_REDIS_URL

    job = _create(client, owner, target.url)
    echoed = _create(client, owner, mirror, name="echoed", http_method="GET")
    worker = Proc("worker", process_env(database_url, TEST_REDIS_URL, redis_prefix), tmp_path, "worker")
    try:
        for j in (job, echoed):
            assert client.post(f"/api/v1/cron/{j['id']}/execute", headers=owner.headers).status_code == 202
        wait_for(lambda: len(run_sql(app, "SELECT status FROM cron_executions WHERE status IN ('SUCCESS', 'FAILED')"))
                 == 2, 60, message=lambda: f"the manual runs to finish\n{worker.output()}")
    finally:
        worker.stop()
    hit = target.hits_for("/echo")[-1]
    assert hit.headers["X-Auth-Token"] == AUTH and hit.headers["X-Api-Key"] == API_KEY
    assert hit.headers["Authorization"] == _basic(f"svc:{PASSWORD}")
    assert hit.query == {"token": URL_TOKEN, "plain": "1", "api_key": PARAM, "page": "1"}
    assert [r[0] for r in run_sql(app, "SELECT status FROM cron_executions")] == ["SUCCESS", "SUCCESS"]
    # the forensic record shows the request as sent with every secret as ***, and the echo is scrubbed
    [(request, headers, body)] = run_sql(app, "SELECT request, response_headers, response_body FROM cron_executions "
                                              "WHERE cron_job_id = :id", id=echoed["id"])
    host = mirror.removeprefix("http://")
    assert request["url"] == f"http://***@{host}/echo?token=***&plain=1&api_key=***&page=1"
    assert request["headers"]["X-Auth-Token"] == request["headers"]["Authorization"] == "***"
    assert headers["X-Seen-Auth"] == "***" and "/echo?token=***" in body
    assert _leaks(json.dumps([request, headers, body])) == [] and _basic(f"svc:{PASSWORD}").split()[1] not in body
    dump = subprocess.run(["pg_dump", "--data-only", database_url], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert "sk-live" not in dump.stdout and _leaks(dump.stdout) == []
    assert "gAAAA" in dump.stdout  # the sealed value is in the dump, encrypted


# ---- the data migration --------------------------------------------------------------------------------------------

def test_the_migration_encrypts_existing_values_and_its_downgrade_restores_them(tmp_path, redis_prefix, keep_limiter):
    from sqlalchemy import create_engine, text

    from cronmanager import create_app
    from tests.conftest import make_config

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    cfg = make_config(url, redis_prefix)
    cfg.SQLALCHEMY_DATABASE_URI = url
    migrated = create_app(cfg)
    runner = migrated.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0007"]).exit_code == 0  # the revision before 0005
    engine = create_engine(url)
    clear_url = f"https://svc:{PASSWORD}@example.com/x?token={URL_TOKEN}"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, email, password_hash, role, timezone, is_active, created_at, "
                          "updated_at) VALUES ('u1', 'a@example.com', 'x', 'ADMIN', 'UTC', 1, '2026-01-01', "
                          "'2026-01-01')"))
        conn.execute(text(
            "INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method, "
            "headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s, "
            "alert_after_failures, auto_disable, auto_reschedule, owner_id, created_at, updated_at, status, "
            "consecutive_failures) VALUES ('j1', 'n', '', '* * * * *', 'UTC', :url, 'GET', :headers, :params, 1, 0, "
            "1000, 'allow', 60, 3, 0, 'off', 'u1', '2026-01-01', '2026-01-01', 'PENDING', 0)"),
            {"url": clear_url, "headers": json.dumps({"X-Auth-Token": AUTH, "Accept": "text/plain"}),
             "params": json.dumps({"api_key": PARAM})})
        conn.execute(text("INSERT INTO job_versions (id, cron_job_id, version, config, created_at) VALUES "
                          "(1, 'j1', 1, :config, '2026-01-01')"),
                     {"config": json.dumps({"endpoint_url": clear_url, "headers": {"X-Auth-Token": AUTH},
                                            "query_params": {"api_key": PARAM}, "name": "n"})})
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM cron_jobs")).mappings().one()
    assert _leaks(str(dict(row))) == []
    assert json.loads(row["headers"]) == {"X-Auth-Token": "***", "Accept": "text/plain"}
    assert row["endpoint_url"] == "https://***@example.com/x?token=***"
    assert _sealed(migrated, "j1")["query_params.api_key"] == PARAM
    with engine.connect() as conn:  # the history of versions is masked too
        config = json.loads(conn.execute(text("SELECT config FROM job_versions")).scalar())
    assert _leaks(json.dumps(config)) == [] and config["endpoint_url"] == "https://***@example.com/x?token=***"
    assert config["name"] == "n" and config["headers"] == {"X-Auth-Token": "***"}
    assert runner.invoke(args=["db", "downgrade", "0007"]).exit_code == 0
    with engine.connect() as conn:
        row = conn.execute(text("SELECT endpoint_url, headers FROM cron_jobs")).one()
    assert row[0] == clear_url and json.loads(row[1])["X-Auth-Token"] == AUTH
    engine.dispose()
