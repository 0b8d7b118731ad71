"""Migrations: one head, `flask db upgrade` on empty SQLite and PostgreSQL, and the models match the schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tests.conftest import PG_ADMIN_URL, admin_exec, make_config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    name = f"cm_migr_{uuid.uuid4().hex[:8]}"
    admin_exec(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _app_on(url: str, redis_prefix: str):
    from cronmanager import create_app

    cfg = make_config(url, redis_prefix)
    cfg.SQLALCHEMY_DATABASE_URI = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    return create_app(cfg)


def _upgrade_and_compare(app) -> None:
    from cronmanager.extensions import db

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        assert "alembic_version" in tables
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            assert context.get_current_revision() == _head()
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []


def _head() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


def test_it_has_exactly_one_head():
    assert _head()


def test_it_upgrades_an_empty_sqlite_file_to_the_models(tmp_path, redis_prefix):
    app = _app_on(f"sqlite:///{tmp_path / 'fresh.sqlite'}", redis_prefix)
    _upgrade_and_compare(app)


def test_it_upgrades_an_empty_postgresql_database_to_the_models(fresh_pg, redis_prefix):
    _upgrade_and_compare(_app_on(fresh_pg, redis_prefix))


def test_it_downgrades_and_upgrades_again_on_sqlite(tmp_path, redis_prefix):
    app = _app_on(f"sqlite:///{tmp_path / 'cycle.sqlite'}", redis_prefix)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    _upgrade_and_compare(app)
