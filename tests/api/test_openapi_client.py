"""A client generated from /api/v1/openapi.json with openapi-python-client works against the API on a real socket.

Mistakes in the document that fuzzing does not notice show up here: two components with one title (the generator
warns and drops a model, so the list answers became `UnexpectedStatus`), or a success without a schema. The
client raises on any status its document does not list, and every answer must parse into its generated model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from uuid import UUID

import pytest

from tests.conftest import Persona
from tests.helpers import ROOT, served

PACKAGE = "cronmanager_client"
# The import body may be YAML, which the generator cannot model: it is sent as bytes. No post hooks (no ruff run).
CONFIG = "content_type_overrides:\n  application/yaml: application/octet-stream\npost_hooks: []\n"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The document as served, turned into a client package once per module, imported."""
    work = tmp_path_factory.mktemp("openapi-client")
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    (work / "openapi.json").write_text(json.dumps(doc))
    (work / "config.yaml").write_text(CONFIG)
    command = [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path",
               str(work / "openapi.json"), "--output-path", str(work / PACKAGE), "--meta", "none",
               "--config", str(work / "config.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert [line for line in output.splitlines() if "warning" in line.lower()] == [], output
    sys.path.insert(0, str(work))
    try:
        importlib.import_module(f"{PACKAGE}.models")
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _api(package: ModuleType, operation: str) -> ModuleType:
    tag, _, name = operation.partition(".")
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def _call(package: ModuleType, operation: str, model: str, *args: object, **kwargs: object) -> object:
    """One operation through the generated client; the answer must be the documented model, parsed."""
    detailed = _api(package, operation).sync_detailed(*args, **kwargs)
    expected = getattr(package.models, model)
    assert isinstance(detailed.parsed, expected), (operation, detailed.status_code, detailed.content[:500])
    return detailed.parsed


def _login(package: ModuleType, base: str, persona: Persona) -> object:
    anonymous = package.Client(base_url=base, raise_on_unexpected_status=True)
    body = package.models.LoginIn(email=persona.email, password=PASSWORD)
    login = _call(package, "auth.post_api_v1_auth_login", "LoginOut", client=anonymous, body=body)
    return package.AuthenticatedClient(base_url=base, token=login.access_token, raise_on_unexpected_status=True)


def test_a_generated_client_runs_the_job_workflow(app, admin, generated):
    m = generated.models
    with served(app) as base:
        client = _login(generated, base, admin)
        target = f"{base}/api/v1/openapi.json"  # answers 200 without credentials
        job = _call(generated, "jobs.post_api_v1_cron", "JobOut", client=client,
                    body=m.JobCreate(name="nightly", cron_expression="0 2 * * *", endpoint_url=target))
        job_id = UUID(job.id)

        listed = _call(generated, "jobs.get_api_v1_cron", "JobList", client=client)
        assert [type(item) for item in listed.items] == [m.JobOut] and listed.items[0].id == job.id
        fetched = _call(generated, "jobs.get_api_v1_cron_job_id", "JobOut", job_id, client=client)
        assert fetched.name == "nightly"
        patched = _call(generated, "jobs.patch_api_v1_cron_job_id", "JobOut", job_id, client=client,
                        body=m.JobUpdate(name="nightly close", cron_expression="30 2 * * *"))
        assert (patched.name, patched.cron_expression) == ("nightly close", "30 2 * * *")

        tried = _call(generated, "jobs.post_api_v1_cron_test", "TestOut", client=client,
                      body=m.JobTest(endpoint_url=target))
        assert tried.ok is True and tried.response_status == 200

        run = _call(generated, "jobs.post_api_v1_cron_job_id_execute", "ExecuteOut", job_id, client=client)
        for operation in ("logs.get_api_v1_cron_job_id_executions", "logs.get_api_v1_cron_job_id_logs"):
            history = _call(generated, operation, "ExecutionList", job_id, client=client)
            assert [(type(e), e.id) for e in history.items] == [(m.ExecutionOut, run.execution_id)]

        exported = _call(generated, "jobs.get_api_v1_cron_export", "JobsDocument", client=client,
                         format_=m.GetApiV1CronExportFormat.JSON)
        assert exported.version == 1 and [entry["name"] for entry in exported.jobs] == ["nightly close"]

        now = datetime.now(UTC)
        report = _api(generated, "audit.get_api_v1_audit_report").sync_detailed(
            client=client, from_=now - timedelta(hours=1), to=now + timedelta(minutes=1)).parsed
        assert report and all(isinstance(entry, m.ReportEntry) for entry in report)
        assert "cron.update" in [entry.action for entry in report]


def test_a_generated_client_reads_the_admin_lists(app, admin, owner, generated):
    from cronmanager.alerts.delivery import notify_in_app
    from cronmanager.audit.kinds import SecurityKind
    from cronmanager.audit.security_events import raise_event
    from cronmanager.extensions import db

    with app.app_context():
        notify_in_app(admin.id, "job_failed", "nightly failed", "3 failures in a row")
        db.session.commit()
        raise_event(SecurityKind.CRON_BULK_DELETE, "12 jobs deleted at once", user_id=admin.id)
        db.session.remove()

    m = generated.models
    with served(app) as base:
        client = _login(generated, base, admin)
        created = _call(generated, "tokens.post_api_v1_auth_tokens", "TokenCreatedOut", client=client,
                        body=m.TokenIn(name="ci", scopes=[m.TokenInScopesItem.READ]))
        tokens = _call(generated, "tokens.get_api_v1_auth_tokens", "TokenList", client=client)
        assert [(type(t), t.id) for t in tokens.items] == [(m.TokenOut, created.id)]

        users = _call(generated, "users.get_api_v1_users", "UserAdminList", client=client)
        assert {type(u) for u in users.items} == {m.UserAdminOut}
        assert sorted(u.email for u in users.items) == sorted([admin.email, owner.email])

        rules = _call(generated, "rules.get_api_v1_rules", "RuleList", client=client)
        assert rules.items and {type(r) for r in rules.items} == {m.RuleOut}

        channel = _call(generated, "alerts.post_api_v1_alert_channels", "ChannelOut", client=client,
                        body=m.ChannelCreate(kind=m.ChannelCreateKind.EMAIL, target="ops@example.com"))
        channels = _call(generated, "alerts.get_api_v1_alert_channels", "ChannelList", client=client)
        assert [(type(c), c.id) for c in channels.items] == [(m.ChannelOut, channel.id)]

        notes = _call(generated, "alerts.get_api_v1_notifications", "NotificationList", client=client)
        assert {type(n) for n in notes.items} == {m.NotificationOut}  # ours, and the security event's alert
        assert "nightly failed" in [n.title for n in notes.items]

        events = _call(generated, "audit.get_api_v1_audit_security_events", "SecurityEventList", client=client)
        assert [(type(e), e.kind) for e in events.items] == [(m.SecurityEventOut, SecurityKind.CRON_BULK_DELETE)]
