"""`flask backup` / `flask restore` on real PostgreSQL databases and SQLite files: contents, manifest, refusals."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import func, inspect, select

from cronmanager.backup.keys import fingerprint
from cronmanager.backup.manifest import MANIFEST
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob
from cronmanager.secrets import vault
from cronmanager.secrets.keyring import derived_key
from tests.conftest import Persona
from tests.helpers import create

SECRET = "s3cret-header-value"
OTHER_SECRET_KEY = "another-secret-key-for-this-test-only"


def _archive(root: Path) -> Path:
    path = root / "executions" / "executions-2026-01-02.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b'{"id": 1, "status": "SUCCESS"}\n'))
    return path


def _seed(app, client, persona, archive_dir: Path) -> str:
    """A job with a secret header, one execution of it, one retention archive."""
    job = create(client, persona, cron_expression="0 3 * * *", endpoint_url="http://127.0.0.1:9/hook",
                 headers={"X-Api-Key": SECRET, "X-Plain": "yes"})
    assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=persona.headers).status_code == 202
    _archive(archive_dir)
    return job["id"]


def _invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def _tables(app) -> list[str]:
    with app.app_context():
        names = inspect(db.engine).get_table_names()
        db.session.remove()
        return names


def _assert_restored(app, job_id: str, archive_dir: Path, source_archive: Path) -> None:
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        assert job is not None and job.headers["X-Api-Key"] == "***"
        assert vault.revealed(job)["headers"] == {"X-Api-Key": SECRET, "X-Plain": "yes"}
        assert db.session.scalar(select(func.count()).select_from(CronExecution)
                                 .where(CronExecution.cron_job_id == job_id)) == 1
        db.session.remove()
    restored = archive_dir / source_archive.relative_to(source_archive.parents[1])
    assert restored.read_bytes() == source_archive.read_bytes()


@pytest.fixture
def source(app, client, owner, tmp_path, monkeypatch):
    """The session app as the system being backed up, with its own archive folder."""
    archive_dir = tmp_path / "archive-src"
    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(archive_dir))
    job_id = _seed(app, client, owner, archive_dir)
    return job_id, archive_dir


def test_it_backs_up_postgresql_and_restores_into_a_fresh_database(app, source, fresh_database, app_on, tmp_path):
    job_id, archive_dir = source
    backup = tmp_path / "backup"
    result = _invoke(app, "backup", str(backup))
    assert result.exit_code == 0, result.output

    manifest = json.loads((backup / MANIFEST).read_text())
    with app.app_context():
        head = db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar()
        db.session.remove()
    assert manifest["database"] == "postgresql" and manifest["schema_revision"] == head
    assert manifest["app_version"] == "0.1.0"
    used = fingerprint(derived_key(app.config["SECRET_KEY"]))
    assert manifest["keys_in_use"] == [used] and used in manifest["key_fingerprints"]
    assert {f["path"] for f in manifest["files"]} == {"database.dump",
                                                      "archive/executions/executions-2026-01-02.jsonl.gz"}
    text = (backup / MANIFEST).read_text() + result.output
    assert derived_key(app.config["SECRET_KEY"]) not in text and app.config["SECRET_KEY"] not in text

    restored_archives = tmp_path / "archive-dst"
    target = app_on(fresh_database(), ARCHIVE_DIR=str(restored_archives))
    result = _invoke(target, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert head in result.output
    _assert_restored(target, job_id, restored_archives, next(archive_dir.glob("*/*.gz")))


def test_it_refuses_a_non_empty_database_unless_forced(app, source, fresh_database, app_on, tmp_path):
    job_id, archive_dir = source
    backup = tmp_path / "backup"
    assert _invoke(app, "backup", str(backup)).exit_code == 0

    refused = _invoke(app, "restore", str(backup))  # the running system's own database
    assert refused.exit_code == 1 and "target database is not empty" in refused.output
    assert "--force" in refused.output

    target = app_on(fresh_database(), ARCHIVE_DIR=str(tmp_path / "archive-dst"))
    with target.app_context():
        upgrade()  # a migrated, non-empty schema: --force replaces it
        db.session.remove()
    assert _invoke(target, "restore", str(backup)).exit_code == 1
    forced = _invoke(target, "restore", "--force", str(backup))
    assert forced.exit_code == 0, forced.output
    _assert_restored(target, job_id, tmp_path / "archive-dst", next(archive_dir.glob("*/*.gz")))


def test_it_refuses_other_keys_before_writing_anything_naming_the_expected_fingerprint(
        app, source, fresh_database, app_on, tmp_path):
    backup = tmp_path / "backup"
    assert _invoke(app, "backup", str(backup)).exit_code == 0
    other = Fernet.generate_key().decode()
    target = app_on(fresh_database(), SECRET_KEY=OTHER_SECRET_KEY, ENCRYPTION_KEYS=[other],
                    ARCHIVE_DIR=str(tmp_path / "archive-dst"))
    result = _invoke(target, "restore", str(backup))
    assert result.exit_code == 1
    assert fingerprint(derived_key(app.config["SECRET_KEY"])) in result.output
    assert fingerprint(other) in result.output and other not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _tables(target) == [] and not (tmp_path / "archive-dst").exists()


def test_it_refuses_to_finish_when_the_keys_cannot_open_the_restored_secrets(
        app, source, fresh_database, app_on, tmp_path):
    """The fingerprint check is the first gate; opening a stored secret after the restore is the second."""
    backup = tmp_path / "backup"
    assert _invoke(app, "backup", str(backup)).exit_code == 0
    manifest = json.loads((backup / MANIFEST).read_text())
    (backup / MANIFEST).write_text(json.dumps({**manifest, "keys_in_use": []}))
    target = app_on(fresh_database(), SECRET_KEY=OTHER_SECRET_KEY, ARCHIVE_DIR=str(tmp_path / "archive-dst"))
    result = _invoke(target, "restore", str(backup))
    assert result.exit_code == 1 and "cannot open its stored secrets" in result.output
    assert not (tmp_path / "archive-dst").exists()


def test_it_gives_one_line_errors_for_what_is_not_a_whole_backup(app, source, fresh_database, app_on, tmp_path):
    backup = tmp_path / "backup"
    assert _invoke(app, "backup", str(backup)).exit_code == 0
    target = app_on(fresh_database(), ARCHIVE_DIR=str(tmp_path / "archive-dst"))

    def refused(directory: Path, expected: str) -> None:
        result = _invoke(target, "restore", str(directory))
        assert result.exit_code == 1 and expected in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1

    refused(tmp_path / "missing", "is not a directory")
    (tmp_path / "empty").mkdir()
    refused(tmp_path / "empty", "has no manifest.json")
    original = (backup / MANIFEST).read_text()
    (backup / MANIFEST).write_text("{not json")
    refused(backup, "is unreadable")
    (backup / MANIFEST).write_text(json.dumps({**json.loads(original), "schema_revision": "9999_from_the_future"}))
    refused(backup, "schema revision 9999_from_the_future is unknown to this release")
    (backup / MANIFEST).write_text(original)
    archive = next((backup / "archive").glob("*/*.gz"))
    archive.write_bytes(archive.read_bytes() + b"x")
    refused(backup, "does not match its sha256")
    assert _tables(target) == []

    clean = tmp_path / "clean"
    assert _invoke(app, "backup", str(clean)).exit_code == 0
    clashing = tmp_path / "archive-dst" / "executions" / "executions-2026-01-02.jsonl.gz"
    clashing.parent.mkdir(parents=True)
    clashing.write_bytes(b"another archive of that day")
    refused(clean, "differ from the backup's")
    assert _tables(target) == [] and clashing.read_bytes() == b"another archive of that day"

    again = _invoke(app, "backup", str(backup))
    assert again.exit_code == 1 and "new or empty directory" in again.output


def test_it_backs_up_and_restores_sqlite_with_the_online_backup_api(app_on, tmp_path):
    source_archives = tmp_path / "archive-src"
    source = app_on(f"sqlite:///{tmp_path / 'source.sqlite'}", ARCHIVE_DIR=str(source_archives))
    with source.app_context():
        upgrade()
        db.session.remove()
    job_id = _seed(source, source.test_client(), Persona(source, "owner@example.com", "ADMIN"), source_archives)
    backup = tmp_path / "backup"
    result = _invoke(source, "backup", str(backup))
    assert result.exit_code == 0, result.output
    manifest = json.loads((backup / MANIFEST).read_text())
    assert manifest["database"] == "sqlite" and manifest["schema_revision"]
    assert "database.sqlite" in {f["path"] for f in manifest["files"]}

    target_archives = tmp_path / "archive-dst"
    target = app_on(f"sqlite:///{tmp_path / 'restored' / 'target.sqlite'}", ARCHIVE_DIR=str(target_archives))
    result = _invoke(target, "restore", str(backup))
    assert result.exit_code == 0, result.output
    _assert_restored(target, job_id, target_archives, next(source_archives.glob("*/*.gz")))
    refused = _invoke(target, "restore", str(backup))
    assert refused.exit_code == 1 and "not empty" in refused.output

    postgres_backup = app_on("postgresql://postgres@127.0.0.1:1/none", ARCHIVE_DIR=str(target_archives))
    wrong_kind = _invoke(postgres_backup, "restore", str(backup))
    assert wrong_kind.exit_code == 1 and "holds a sqlite database" in wrong_kind.output
