"""`flask jobs export` / `flask jobs import` (SPEC §17): the same plan and apply as the API, from a shell."""

from __future__ import annotations

import yaml

from tests.conftest import run_sql

JOB = {"cron_expression": "0 4 * * *", "endpoint_url": "http://127.0.0.1:9/cli"}


def create(client, persona, **fields) -> None:
    resp = client.post("/api/v1/cron", json={**JOB, **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()


def test_export_writes_the_document_for_one_owner_or_everyone(app, client, owner, outsider):
    create(client, owner, name="mine", headers={"X-Api-Key": "k-123456"})
    create(client, outsider, name="theirs")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "export", "--owner", "OWNER@example.com"])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert [j["name"] for j in document["jobs"]] == ["mine"]
    assert document["jobs"][0]["headers"] == {"X-Api-Key": "***"} and "k-123456" not in result.output
    api = client.get("/api/v1/cron/export", headers=owner.headers).get_data(as_text=True)
    assert result.output == api
    everyone = runner.invoke(args=["jobs", "export", "--format", "json"])
    assert everyone.exit_code == 0 and '"theirs"' in everyone.output and '"mine"' in everyone.output
    assert runner.invoke(args=["jobs", "export", "--owner", "nobody@example.com"]).exit_code != 0


def test_import_prints_the_plan_and_applies_only_with_apply(app, client, owner, tmp_path):
    create(client, owner, name="keep")
    create(client, owner, name="drop")
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "jobs": [
        {"name": "keep", **JOB, "cron_expression": "30 4 * * *"}, {"name": "add", **JOB}]}))
    runner = app.test_cli_runner()
    planned = runner.invoke(args=["jobs", "import", str(path), "--as", owner.email, "--prune"])
    assert planned.exit_code == 0, planned.output
    assert "+ create  add" in planned.output and "- delete  drop" in planned.output
    assert 'cron_expression: "0 4 * * *" -> "30 4 * * *"' in planned.output
    assert "Plan: 1 to create, 1 to update, 1 to delete, 0 unchanged, 0 with errors." in planned.output
    assert run_sql(app, "SELECT name, cron_expression FROM cron_jobs ORDER BY name") == [
        ("drop", "0 4 * * *"), ("keep", "0 4 * * *")]

    applied = runner.invoke(args=["jobs", "import", str(path), "--as", owner.email, "--prune", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert run_sql(app, "SELECT name, cron_expression, next_run_at IS NOT NULL FROM cron_jobs ORDER BY name") == [
        ("add", "0 4 * * *", True), ("keep", "30 4 * * *", True)]
    assert run_sql(app, "SELECT user_id, request_payload->>'via' FROM audit_logs WHERE action = 'cron.import'") == [
        (owner.id, "cli")]
    assert run_sql(app, "SELECT source FROM schedule_changes WHERE reason = 'import' ORDER BY id") == [
        ("cli",), ("cli",)]


def test_import_exits_1_with_errors_and_changes_nothing(app, client, owner, readonly, tmp_path):
    path = tmp_path / "jobs.json"
    path.write_text('{"version": 1, "jobs": [{"name": "a", "cron_expression": "99 * * * *", '
                    '"endpoint_url": "http://127.0.0.1:9/"}, {"name": "b", "cron_expression": "* * * * *", '
                    '"endpoint_url": "http://127.0.0.1:9/"}]}')
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "import", str(path), "--as", owner.email, "--apply"])
    assert result.exit_code == 1
    assert "! error   a" in result.output and "cron_expression" in result.output
    assert "Nothing was changed." in result.output
    assert run_sql(app, "SELECT count(*) FROM cron_jobs") == [(0,)]
    denied = runner.invoke(args=["jobs", "import", str(path), "--as", readonly.email])
    assert denied.exit_code != 0 and "may not change jobs" in denied.output
    path.write_text("version: 1\njobs: [*x]\n")
    bad = runner.invoke(args=["jobs", "import", str(path), "--as", owner.email])
    assert bad.exit_code != 0


def test_import_reads_files_larger_than_the_api_accepts(app, owner, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("version: 1\njobs:\n- name: big\n  cron_expression: 0 1 * * *\n  endpoint_url: http://127.0.0.1:9/\n"
                    + "# " + "x" * (1024 * 1024) + "\n")
    result = app.test_cli_runner().invoke(args=["jobs", "import", str(path), "--as", owner.email])
    assert result.exit_code == 0, result.output
    assert "+ create  big" in result.output
