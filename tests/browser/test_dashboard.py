"""The dashboard in a real browser (SPEC §9): forms, live updates over SSE, permissions, phone layout."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import AlertChannel, ApiToken, AuditLog, CronExecution, CronJob, utcnow
from tests.browser.conftest import login, schedule_panels_settled, shot
from tests.stack import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = ["/", "/jobs", "/jobs/new", "/logs", "/audit", "/tokens", "/settings", "/notifications"]


def create_job(app, persona, **fields) -> dict:
    """Straight through the shared job service: fast set-up, no HTTP round trip."""
    from cronmanager.auth.principal import Principal
    from cronmanager.jobs import service
    from cronmanager.models import User

    body = {"name": "Nightly billing close", "cron_expression": "0 2 * * *", "timezone": "Europe/Berlin",
            "endpoint_url": "http://127.0.0.1:9/close-day", **fields}
    with app.test_request_context():
        user = db.session.get(User, persona.id)
        job = service.create_job(Principal(user=user, scopes=user.allowed_scopes(), via="session"), body)
        db.session.commit()
        data = service.job_json(job)
        db.session.remove()
    return data


def add_executions(app, job_id: str, statuses: list[str]) -> None:
    now = utcnow()
    with app.app_context():
        for i, status in enumerate(statuses):
            at = now - timedelta(minutes=5 * (len(statuses) - i))
            db.session.add(CronExecution(
                cron_job_id=job_id, scheduled_for=at, due_at=at, trigger="schedule", status=status,
                started_at=at, completed_at=at + timedelta(milliseconds=120), execution_time_ms=120,
                response_status=200 if status == "SUCCESS" else 503, response_body='{"ok": true}',
                error_message=None if status == "SUCCESS" else "HTTP 503 from target"))
        db.session.commit()
        db.session.remove()


def job_row(app, job_id: str) -> CronJob | None:
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        if job is not None:
            db.session.expunge(job)
        db.session.remove()
        return job


def test_it_signs_in_and_renders_every_page_without_errors(page: Page, app, client, admin, owner, errors):
    job = create_job(app, owner, headers={"Authorization": "Bearer s3cret"})
    add_executions(app, job["id"], ["SUCCESS", "FAILED", "SUCCESS"])
    page.goto("/jobs")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    shot(page, "login")
    login(page, admin)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Overview", "Jobs", "Logs", "Audit", "API tokens", "Notifications", "Settings"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page.locator("body[data-chart]")).to_have_attribute("data-chart", "ready")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    for path in PAGES + [f"/jobs/{job['id']}", f"/jobs/{job['id']}/edit", "/audit?tab=security"]:
        resp = page.goto(path)
        assert resp.status == 200, path
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "overview"
        if job["id"] in name:
            name = name.replace(job["id"], "id")
        shot(page, f"desktop-{name}")
    assert not errors, errors


def test_it_creates_a_job_with_the_builder_and_shows_runs_live(page: Page, app, owner, stack, target, errors):
    stack.worker()
    stack.scheduler()
    login(page, owner)
    page.goto("/jobs/new")
    page.get_by_role("button", name="Weekdays at 09:00").click()
    expect(page.locator("[data-preview-text]")).to_contain_text("09:00 AM, Monday through Friday")
    expect(page.locator("[data-preview-fires] li")).to_have_count(5)
    page.fill("[data-cron-input]", "*/61 * * * *")
    expect(page.locator("[data-preview-error]")).to_be_visible()
    page.fill("[data-cron-input]", "*/3 * * * * *")
    expect(page.locator("[data-preview-text]")).to_contain_text("Every 3 seconds")
    page.fill("input[name=name]", "Ping the target")
    page.select_option("select[name=http_method]", "POST")
    page.fill("input[name=endpoint_url]", f"{target.url}/echo/browser")
    page.locator("[data-kv=header] input[name=header_key]").first.fill("X-From")
    page.locator("[data-kv=header] input[name=header_value]").first.fill("browser")
    page.fill("textarea[name=body]", '{"hello": "world"}')
    page.get_by_role("button", name="Test execution").click()
    expect(page.locator("[data-test-result]")).to_contain_text("HTTP 200")
    expect(page.locator("[data-test-body]")).to_contain_text('"method": "POST"')
    shot(page, "desktop-job-form-filled")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]
    # the scheduler fires within 3 s: the row appears without a reload
    expect(page.locator("[data-executions] tbody tr").first).to_be_visible(timeout=15000)
    expect(page.locator("[data-executions] [data-status-badge]", has_text="SUCCESS").first).to_be_visible(
        timeout=15000)
    hits = target.hits_for("/echo/browser")
    assert hits and hits[0].method == "POST" and hits[0].headers["X-From"] == "browser"
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#toasts")).to_contain_text("Run queued")
    expect(page.locator("[data-executions] td[data-col=trigger]", has_text="manual")).to_be_visible(timeout=15000)
    page.locator("[data-executions] [data-action=view-execution]").first.click()
    expect(page.locator("[data-response-body]")).to_contain_text('"method": "POST"')
    shot(page, "desktop-job-detail-live")
    page.locator("#execution-dialog").get_by_role("button", name="Close").click()
    page.locator("[data-job-actions]").get_by_role("button", name="Disable").click()
    expect(page.locator("[data-job-header] [data-active-badge]")).to_have_text("Disabled")
    wait_for(lambda: job_row(app, job_id).is_active is False, 5, message="job disabled")
    assert [e for e in errors if "422" not in e] == [], errors  # the invalid expression's preview is a 422


def test_it_toggles_clones_and_deletes_from_the_pages(page: Page, app, client, owner, errors):
    job = create_job(app, owner, query_params={"day": "today"})
    login(page, owner)
    page.goto("/jobs")
    row = page.locator(f"tr[data-job-id='{job['id']}']")
    row.get_by_role("button", name="Disable").click()
    expect(row.locator("[data-active-badge]:visible")).to_have_text("Disabled")
    assert job_row(app, job["id"]).is_active is False
    row.get_by_role("button", name="Enable").click()
    expect(row.locator("[data-active-badge]:visible")).to_have_text("Enabled")

    page.goto(f"/jobs/{job['id']}")
    page.get_by_role("link", name="Clone").click()
    expect(page.locator("input[name=name]")).to_have_value("Copy of Nightly billing close")
    expect(page.locator("input[name=param_value]").first).to_have_value("today")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.locator("h1[data-job-name]")).to_have_text("Copy of Nightly billing close")
    clone_id = page.url.rsplit("/", 1)[1]
    assert clone_id != job["id"] and job_row(app, clone_id).query_params == {"day": "today"}

    page.locator("[data-job-actions]").get_by_role("button", name="Delete").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    shot(page, "desktop-confirm-delete", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    assert job_row(app, clone_id) is not None
    page.locator("[data-job-actions]").get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/jobs$"))
    expect(page.locator("#toasts")).to_contain_text("deleted")
    assert job_row(app, clone_id) is None
    expect(page.locator(f"tr[data-job-id='{clone_id}']")).to_have_count(0)
    assert not errors, errors


def test_it_keeps_what_was_typed_and_shows_errors_next_to_fields(page: Page, owner, errors):
    login(page, owner)
    page.goto("/jobs/new")
    page.fill("input[name=name]", "Half-typed job")
    page.fill("[data-cron-input]", "61 * * * *")
    page.fill("input[name=endpoint_url]", "http://127.0.0.1:9/x")
    page.locator("[data-kv=header] input[name=header_key]").first.fill("X-Keep")
    page.locator("[data-kv=header] input[name=header_value]").first.fill("me")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    expect(page.locator("[data-field-error=cron_expression]")).to_be_visible()
    expect(page.locator("input[name=name]")).to_have_value("Half-typed job")
    expect(page.locator("input[name=header_value]").first).to_have_value("me")
    shot(page, "desktop-job-form-errors")
    assert [e for e in errors if "422" not in e] == []


def test_it_creates_and_revokes_an_api_token(page: Page, app, client, owner, errors):
    login(page, owner)
    page.goto("/tokens")
    page.fill("#token-name", "CI deploy")
    page.check("input[name=scopes][value=write]")
    page.fill("#token-ips", "127.0.0.1\n10.0.0.0/8")
    page.get_by_role("button", name="Create token").click()
    value = page.locator("[data-new-token-value]")
    expect(value).to_have_value(re.compile(r"^tasker_[\w-]{32,}$"))
    raw = value.input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#toasts")).to_contain_text("copied")
    shot(page, "desktop-token-created")
    assert client.get("/api/v1/cron", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    page.get_by_role("button", name="Done").click()
    row = page.locator("tr[data-token-name='CI deploy']")
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("10.0.0.0/8")
    row.get_by_role("button", name="Revoke").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Revoke").click()
    expect(row.locator("[data-token-status]")).to_have_text("revoked")
    assert client.get("/api/v1/cron", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    with app.app_context():
        token = db.session.execute(select(ApiToken)).scalar_one()
        assert token.revoked_at is not None and token.scopes == ["read", "write"]
        db.session.remove()
    assert not errors, errors


def test_it_exports_the_filtered_logs_as_csv(page: Page, app, client, owner, errors):
    job = create_job(app, owner)
    add_executions(app, job["id"], ["SUCCESS", "FAILED", "SUCCESS", "FAILED", "SUCCESS"])
    login(page, owner)
    page.goto("/logs")
    expect(page.locator("[data-executions] tbody tr")).to_have_count(5)
    page.select_option("select[name=status]", "FAILED")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-executions] tbody tr")).to_have_count(2)
    link = page.get_by_role("link", name="Export CSV")
    assert "status=FAILED" in link.get_attribute("href") and "format=csv" in link.get_attribute("href")
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("text/csv")
    text = response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and {r["status"] for r in rows} == {"FAILED"}
    assert rows[0]["job_name"] == "Nightly billing close"
    assert not errors, errors


def test_a_read_only_user_sees_no_edit_controls(page: Page, app, owner, readonly, errors):
    job = create_job(app, owner)
    login(page, readonly)
    page.goto("/jobs")
    expect(page.locator(f"tr[data-job-id='{job['id']}']")).to_be_visible()
    for name in ("New job", "Run", "Disable", "Edit"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
        expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    expect(page.locator("[data-select], [data-batch-bar]")).to_have_count(0)
    page.goto(f"/jobs/{job['id']}")
    expect(page.locator("h1[data-job-name]")).to_be_visible()
    expect(page.locator("[data-job-actions]")).to_have_count(0)
    shot(page, "desktop-readonly-job-detail")
    assert page.goto("/jobs/new").status == 403
    assert page.goto(f"/jobs/{job['id']}/edit").status == 403
    page.goto("/")
    expect(page.locator("[data-quick-actions]").get_by_role("link", name="New job")).to_have_count(0)


def test_users_cannot_open_the_queue_dashboard_or_audit_or_others_jobs(page: Page, app, admin, owner, outsider):
    job = create_job(app, owner)
    login(page, outsider)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit")).to_have_count(0)
    assert page.goto("/rq/").status == 403
    assert page.goto("/audit").status == 403
    assert page.goto(f"/jobs/{job['id']}").status == 404
    page.context.clear_cookies()
    login(page, admin)
    rq_errors: list[str] = []
    page.on("pageerror", lambda exc: rq_errors.append(str(exc)))
    page.on("console", lambda msg: rq_errors.append(msg.text) if msg.type == "error" else None)
    assert page.goto("/rq/").status == 200
    expect(page.locator("body")).to_contain_text("Queues")
    expect(page.get_by_text("Loading...")).to_have_count(0, timeout=10000)  # its scripts ran under our CSP
    shot(page, "desktop-rq-dashboard")
    assert rq_errors == []


def test_the_phone_layout_has_no_horizontal_scroll(page: Page, app, client, owner, admin, errors):
    job = create_job(app, owner, name="A job with a rather long name to stress the layout on a phone",
                     endpoint_url="http://127.0.0.1:9/a/very/long/path/that/keeps/going/and/going/on/and/on")
    add_executions(app, job["id"], ["SUCCESS", "FAILED"])
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, admin)
    for path in PAGES + [f"/jobs/{job['id']}", f"/jobs/{job['id']}/edit"]:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways ({width} px)"
        name = (path.strip("/").replace("/", "-") or "overview").replace(job["id"], "id")
        shot(page, f"phone-{name}")
    page.goto("/jobs")
    sidebar = page.locator("[data-sidebar]")
    expect(sidebar).to_be_hidden()
    page.locator("[data-nav-toggle]").click()
    expect(sidebar.get_by_role("link", name="Logs")).to_be_visible()
    shot(page, "phone-nav-open", full_page=False)
    sidebar.get_by_role("link", name="Logs").click()
    page.wait_for_url(re.compile(r"/logs$"))
    assert not errors, errors


def test_settings_change_the_timezone_and_the_password(page: Page, app, owner, errors):
    login(page, owner)
    page.goto("/settings")
    page.select_option("select[name=profile-timezone]", "Asia/Tokyo")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#toasts")).to_contain_text("Asia/Tokyo")
    page.fill("input[name=password-current_password]", "wrong password")
    page.fill("input[name=password-new_password]", "a new long password")
    page.fill("input[name=password-confirm]", "a new long password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("[data-field-error=password-current_password]")).to_be_visible()
    page.fill("input[name=password-current_password]", "correct horse battery")
    page.fill("input[name=password-new_password]", "a new long password")
    page.fill("input[name=password-confirm]", "a new long password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#toasts")).to_contain_text("Password changed")
    page.locator("[data-user-menu] summary").click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(re.compile(r"/login"))
    login(page, owner, password="a new long password")
    expect(page.locator("meta[name=user-tz]")).to_have_attribute("content", "Asia/Tokyo")
    assert [e for e in errors if "422" not in e] == []


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver on 127.0.0.1: (url, [{"path", "headers", "body"}, ...])."""
    hits: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/cron", hits
    server.shutdown()
    server.server_close()


def channels_of(app, user_id: str | None) -> list[AlertChannel]:
    with app.app_context():
        rows = db.session.execute(select(AlertChannel).where(
            AlertChannel.user_id.is_(None) if user_id is None else AlertChannel.user_id == user_id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return list(rows)


def audited(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.execute(select(AuditLog).where(AuditLog.action == action)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return list(rows)


def test_settings_manage_a_webhook_channel_and_send_a_signed_test(page: Page, app, owner, receiver, errors):
    url, hits = receiver
    login(page, owner)
    page.goto("/settings")
    expect(page.locator("[data-channels-empty]")).to_be_visible()
    form = page.locator("[data-create-channel]")
    form.get_by_label("Webhook").check()
    expect(form.get_by_label("Webhook URL")).to_be_visible()
    # a failed submit keeps everything typed and puts the API's message next to the field
    form.get_by_label("Name").fill("Team hook")
    form.get_by_label("Webhook URL").fill(url)
    form.get_by_label("Signing secret").fill("short")
    form.get_by_role("button", name="Add channel").click()
    expect(form.locator("[data-error-for='config.secret']")).to_be_visible()
    expect(form.get_by_label("Name")).to_have_value("Team hook")
    expect(form.get_by_label("Webhook URL")).to_have_value(url)
    shot(page, "desktop-settings-channel-error")
    form.get_by_label("Signing secret").fill("")
    form.get_by_role("button", name="Add channel").click()
    secret_box = page.locator("[data-new-secret-value]")
    expect(secret_box).to_have_value(re.compile(r"^[\w-]{32,}$"))
    secret = secret_box.input_value()
    item = page.locator("[data-channel-list] li[data-channel-name='Team hook']")
    expect(item).to_contain_text("webhook")
    expect(item.locator("[data-channel-state]")).to_have_text("active")
    expect(form.get_by_label("Name")).to_have_value("")  # the form is reset after success
    [channel] = channels_of(app, owner.id)
    assert channel.kind == "webhook" and channel.target == url and channel.config["secret"] == secret
    assert channel.config["format"] == "json"

    item.get_by_role("button", name="Send test").click()
    expect(page.locator("#toasts")).to_contain_text("Test message delivered")
    assert len(hits) == 1
    hit = hits[0]
    assert hit["path"] == "/hooks/cron" and hit["headers"]["X-CronManager-Event"] == "test"
    expected = "sha256=" + hmac.new(secret.encode(), hit["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hit["headers"]["X-CronManager-Signature"], expected)
    assert json.loads(hit["body"])["event"] == "test"
    page.get_by_role("button", name="Done").click()
    expect(page.locator("[data-new-secret]")).to_be_hidden()
    shot(page, "desktop-settings-channels")

    item.get_by_role("button", name="Pause").click()
    expect(item.locator("[data-channel-state]")).to_have_text("paused")
    assert channels_of(app, owner.id)[0].is_active is False
    item.get_by_role("button", name="Resume").click()
    expect(item.locator("[data-channel-state]")).to_have_text("active")
    assert channels_of(app, owner.id)[0].is_active is True

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-settings-channels")
    page.set_viewport_size({"width": 1280, "height": 800})

    item.get_by_role("button", name="Delete").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Team hook")
    dialog.get_by_role("button", name="Cancel").click()
    assert len(channels_of(app, owner.id)) == 1
    item.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    expect(page.locator("[data-channels-empty]")).to_be_visible()
    assert channels_of(app, owner.id) == []
    wait_for(lambda: len(audited(app, "alerts.channel_delete")) == 1, 5, message="delete audited")
    for action in ("alerts.channel_create", "alerts.channel_test", "alerts.channel_update"):
        assert audited(app, action), action
    assert not [e for e in errors if "422" not in e], errors  # the refused short secret is a 422


def test_admins_manage_global_channels_and_see_failed_tests(page: Page, app, admin, owner, errors):
    saved = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = ""
    try:
        login(page, admin)
        page.goto("/settings")
        form = page.locator("[data-create-channel]")
        form.get_by_label("Name").fill("Ops mailbox")
        form.get_by_label("E-mail address").fill("ops@example.com")
        form.get_by_label("Global channel").check()
        form.get_by_role("button", name="Add channel").click()
        item = page.locator("[data-channel-list] li[data-channel-name='Ops mailbox']")
        expect(item).to_contain_text("global")
        expect(page.locator("[data-new-secret]")).to_be_hidden()  # e-mail channels have no secret
        [channel] = channels_of(app, None)
        assert channel.kind == "email" and channel.target == "ops@example.com"
        item.get_by_role("button", name="Send test").click()
        expect(page.locator("#toasts")).to_contain_text("failed: SMTP_URL is not configured")
        expect(item.locator("[data-channel-errors]")).to_contain_text("SMTP_URL is not configured")
        expect(item.locator("[data-channel-state]")).to_have_text("last send failed")
        shot(page, "desktop-settings-global-channel")
    finally:
        app.config["SMTP_URL"] = saved
    page.context.clear_cookies()
    login(page, owner)
    page.goto("/settings")
    expect(page.locator("[data-channel-list] li")).to_have_count(0)  # a global channel is the admins' business
    expect(page.locator("[data-create-channel]").get_by_label("Global channel")).to_have_count(0)
    assert not errors, errors


def test_the_job_form_saves_success_codes_alert_threshold_and_auto_disable(page: Page, app, client, owner, errors):
    login(page, owner)
    page.goto("/jobs/new")
    page.fill("input[name=name]", "Strict target")
    page.fill("input[name=endpoint_url]", "http://127.0.0.1:9/strict")
    expect(page.locator("input[name=alert_after_failures]")).to_have_value("3")
    expect(page.locator("input[name=misfire_grace_s]")).to_have_value("60")
    page.fill("input[name=expected_statuses]", "200,abc")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    expect(page.locator("[data-field-error=expected_statuses]")).to_be_visible()
    page.fill("input[name=expected_statuses]", "200,99")  # syntax fine; the job service refuses the range
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    expect(page.locator("[data-field-error=expected_statuses]")).to_contain_text("100-599")
    expect(page.locator("input[name=name]")).to_have_value("Strict target")
    page.fill("input[name=expected_statuses]", "200,204")
    page.fill("input[name=alert_after_failures]", "5")
    page.select_option("select[name=on_exhausted]", "disable")
    shot(page, "desktop-job-form-alerts")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]
    data = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert data["expected_statuses"] == [200, 204]
    assert data["alert_after_failures"] == 5 and data["auto_disable"] is True and data["misfire_grace_s"] == 60
    expect(page.locator("[data-config=expected-statuses]")).to_have_text("HTTP 200, 204")
    expect(page.locator("[data-config=alerts]")).to_contain_text("disable when retries are used up")
    shot(page, "desktop-job-detail-config")

    page.get_by_role("link", name="Edit").click()
    expect(page.locator("input[name=expected_statuses]")).to_have_value("200, 204")
    expect(page.locator("select[name=on_exhausted]")).to_have_value("disable")
    page.fill("input[name=expected_statuses]", "")
    page.fill("input[name=misfire_grace_s]", "0")
    page.select_option("select[name=on_exhausted]", "alert")
    schedule_panels_settled(page)
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    data = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert data["expected_statuses"] is None and data["misfire_grace_s"] == 0 and data["auto_disable"] is False
    assert data["alert_after_failures"] == 5
    expect(page.locator("[data-config=expected-statuses]")).to_have_text("any 2xx")
    assert [e for e in errors if "422" not in e] == [], errors
