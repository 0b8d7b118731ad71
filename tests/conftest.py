"""Fixtures on real services: a throw-away PostgreSQL database and an own Redis db + key prefix per run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bench import common

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
RUN_ID = uuid.uuid4().hex[:8]
# Target names such as billing.example.com go to the machine's resolver, which now and then loses an answer under
# load; glibc waits 5 s per try by default (seen: thirteen 5-s stalls in one schemathesis run). This process and
# every process a test starts read it before their first lookup.
os.environ.setdefault("RES_OPTIONS", "timeout:1 attempts:2")


def admin_exec(sql: str) -> None:
    """Run one statement on the PostgreSQL server's admin database (CREATE/DROP DATABASE)."""
    common.admin_exec(sql, PG_ADMIN_URL)


# The longest tests of each phase with about how long each takes alone in its phase on 2 cores (seconds, from
# `pytest --durations`; the first prefix a test matches gives its time); every other test counts as SHORT_S. Under
# `pytest -n N` (scripts/test.sh) they are spread over the workers first, so that no worker runs two of them in a
# row while another idles, and none is left alone with one at the end.
EXPECTED_S = {
    "tests/e2e/test_rules.py::test_fifty_jobs_on_one_instant": 125,
    "tests/api/test_openapi.py::test_it_keeps_to_its_document_under_every_check_and_phase[jobs]": 115,
    "tests/security/test_openapi_cross_user.py::test_a_users_fuzzing_run_never_sees_another_users_data[jobs]": 100,
    "tests/api/test_openapi.py::test_it_keeps_to_its_document_under_every_check_and_phase[job-tools]": 80,
    "tests/api/test_openapi.py::test_it_keeps_to_its_document_under_every_check_and_phase": 60,
    "tests/e2e/test_redis_sentinel.py": 55,
    "tests/e2e/test_rules.py::test_a_failing_job_is_throttled": 45,
    "tests/backup/test_backup_e2e.py": 45,
    "tests/e2e/test_operations.py::test_flask_health_follows": 40,
    "tests/dependencies/test_chain_e2e.py::test_a_chain_fires_once": 40,
    "tests/security/test_openapi_cross_user.py": 35,
    "tests/health/test_e2e_health.py": 25,
    "tests/alerts/test_alerts_e2e.py::test_a_failing_job_pages_once": 25,
    "tests/e2e/test_tracing.py::test_one_trace": 25,
    "tests/e2e/test_chaos.py": 20,
    "tests/e2e/test_process_logs.py": 20,
    "tests/browser/test_dashboard.py::test_it_creates_a_job_with_the_builder": 20,
    "tests/e2e/test_worker_pool.py": 18,
    "tests/e2e/test_rules.py": 18,
    "tests/e2e/test_faults.py": 15,
    "tests/e2e/test_engine.py": 15,
    "tests/e2e/test_fencing.py": 15,
    "tests/monitoring/test_export_memory.py::test_export_of_a_large_history": 12,
    "tests/unit/test_formats.py::test_the_pattern_matches_what_the_server_accepts": 9,
    "tests/unit/test_formats.py::test_every_expression_the_pattern_allows_is_valid": 9,
    "tests/security/test_limits.py::test_production_refuses_the_default_token_salt": 5,
}
SHORT_S = 0.5


def expected_s(item: pytest.Item) -> float:
    return next((s for prefix, s in EXPECTED_S.items() if item.nodeid.startswith(prefix)), SHORT_S)


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` deselected what this phase does not run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = planned(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), expected_s)


def planned(items: list, workers: int, cost: Callable[[Any], float]) -> list:
    """`items` reordered for pytest-xdist's work stealing (`--dist worksteal`), which hands each worker one
    contiguous slice of the collection, sized len(rest) // workers left: longest first, each to the slice with the
    least expected time that still has room, so the long tests spread evenly and start at once; idle workers then
    steal the short ends of the others' slices. One worker: longest first."""
    sizes, left = [], len(items)
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    slices: list[list] = [[] for _ in sizes]
    loads = [0.0] * workers
    for item in sorted(items, key=cost, reverse=True):  # stable: equal costs keep their file order
        room = [i for i in range(workers) if len(slices[i]) < sizes[i]]
        chosen = min(room, key=lambda i: (loads[i], i))
        slices[chosen].append(item)
        loads[chosen] += cost(item)
    return [item for part in slices for item in part]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"cm_test_{RUN_ID}"
    admin_exec(f'CREATE DATABASE "{name}"')
    admin_exec(f'ALTER DATABASE "{name}" SET synchronous_commit = off')  # a throw-away database needs no fsync wait
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    prefix = f"cmtest-{RUN_ID}"
    yield prefix
    r = Redis.from_url(TEST_REDIS_URL)
    for key in r.scan_iter(match=f"*{prefix}*", count=1000):  # RQ's keys too (cronmanager.rq_namespace)
        r.delete(key)


def make_config(database_url: str, redis_prefix: str, **overrides: object):
    os.environ["CRONMANAGER_ENV"] = "testing"
    from config import TestingConfig, parse_business_hours

    cfg = TestingConfig()
    cfg.SQLALCHEMY_DATABASE_URI = database_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    cfg.REDIS_URL = TEST_REDIS_URL
    cfg.REDIS_PREFIX = redis_prefix
    cfg.ALLOW_PRIVATE_TARGETS = True
    cfg.API_RATE_LIMIT = "100000/minute"
    cfg.AUTH_RATE_LIMIT = "100000/minute"
    cfg.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    cfg.WTF_CSRF_ENABLED = False
    cfg.RETRY_BACKOFF_S = [1, 1, 1]
    cfg.RETRY_JITTER = 0.0
    cfg.BUSINESS_HOURS = parse_business_hours("Mon-Sun 00:00-24:00")  # off-hours tests set their own
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="session")
def app(database_url: str, redis_prefix: str):
    from flask_migrate import upgrade

    from cronmanager import create_app

    application = create_app(make_config(database_url, redis_prefix))
    with application.app_context():
        upgrade()
        SEEDED_RULES.extend(_rule_rows())
    return application


RULE_COLUMNS = ("name", "kind", "priority", "enabled", "params", "updated_at")
SEEDED_RULES: list[dict] = []  # the rules as the migration seeded them, before any test changed one


def _rule_rows() -> list[dict]:
    from sqlalchemy import select

    from cronmanager.extensions import db
    from cronmanager.models.rules import Rule

    rows = [{c: getattr(r, c) for c in RULE_COLUMNS} for r in db.session.execute(select(Rule)).scalars()]
    db.session.remove()
    return rows


KEPT_TABLES = frozenset({"reschedule_rules"})  # seeded by a migration; tests that change rules use keep_rules


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts on empty tables and an empty Redis namespace."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    _wipe(application)
    yield
    from cronmanager.extensions import db

    with application.app_context():
        db.session.remove()


WIPE_ATTEMPTS = 5


def _wipe_statement() -> str:
    """DELETE from every model table, children first, in one round trip: on tables of a few rows this is several
    times faster than TRUNCATE (which swaps files), and a table added by a later model is wiped without a list here."""
    from cronmanager.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name not in KEPT_TABLES]
    return "; ".join(f'DELETE FROM "{name}"' for name in tables)


def _wipe(application) -> None:
    from cronmanager.extensions import db

    statement = _wipe_statement()
    with application.app_context():
        for attempt in range(WIPE_ATTEMPTS):
            try:
                db.session.execute(text(statement))
                db.session.commit()
                break
            except OperationalError as err:
                # a request the last test's page left in flight (a browser test's live server) may still be writing:
                # its row locks and the wipe's can meet in a deadlock, and PostgreSQL aborts one side
                db.session.rollback()
                if not isinstance(err.orig, psycopg2.errors.DeadlockDetected) or attempt == WIPE_ATTEMPTS - 1:
                    raise
        r = application.extensions["redis"]
        keys = list(r.scan_iter(match=f"*{application.config['REDIS_PREFIX']}*", count=1000))  # RQ's keys too
        if keys:
            r.delete(*keys)


@pytest.fixture
def keep_limiter() -> Iterator[None]:
    """A second create_app() re-points the module-global Flask-Limiter at its own storage; put it back after."""
    from cronmanager.extensions import limiter

    saved = dict(limiter.__dict__)
    yield
    limiter.__dict__.clear()
    limiter.__dict__.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


class Persona:
    def __init__(self, app, email: str, role: str) -> None:
        from cronmanager.auth import sessions
        from cronmanager.auth.users import create_user
        from cronmanager.extensions import db

        with app.test_request_context():
            user = create_user(email, "correct horse battery", role)
            self.access = sessions.issue_login_tokens(user)["access_token"]
            db.session.commit()
            self.id, self.email, self.role = user.id, user.email, user.role

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@pytest.fixture
def admin(app):
    return Persona(app, "admin@example.com", "ADMIN")


@pytest.fixture
def owner(app, admin):
    return Persona(app, "owner@example.com", "USER")


@pytest.fixture
def outsider(app, admin):
    return Persona(app, "outsider@example.com", "USER")


@pytest.fixture
def readonly(app, admin):
    return Persona(app, "viewer@example.com", "READ_ONLY")


@pytest.fixture
def editor(app, admin):
    return Persona(app, "editor@example.com", "USER")


@pytest.fixture
def viewer(app, admin):
    return Persona(app, "teamviewer@example.com", "USER")


@pytest.fixture
def team(client, owner, editor, viewer):
    """Platform: owner (owner), editor (editor), viewer (viewer)."""
    resp = client.post("/api/v1/teams", json={"name": "Platform"}, headers=owner.headers)
    assert resp.status_code == 201, resp.get_json()
    team = resp.get_json()
    for persona, role in ((editor, "editor"), (viewer, "viewer")):
        put = client.put(f"/api/v1/teams/{team['id']}/members/{persona.id}", json={"role": role},
                         headers=owner.headers)
        assert put.status_code == 200, put.get_json()
    return team


def run_sql(app, sql: str, **params: object) -> list:
    """Raw SQL in its own committed transaction: tests read and bend rows the API does not expose."""
    from cronmanager.extensions import db

    with app.app_context():
        result = db.session.execute(text(sql), params)
        rows = result.all() if result.returns_rows else []
        db.session.commit()
        return rows


def make_token(client, persona: Persona, scopes: list[str], **extra: object) -> str:
    resp = client.post("/api/v1/auth/tokens", json={"name": "t", "scopes": scopes, **extra}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def keep_rules(app) -> Iterator[None]:
    """The rules table is seeded by a migration and not wiped between tests (the OpenAPI fuzzer changes rules too):
    each test using this starts from the seeded rules and leaves them so."""
    from sqlalchemy import delete, insert

    from cronmanager.extensions import db
    from cronmanager.models.rules import Rule

    def reseed() -> None:
        with app.app_context():
            db.session.execute(delete(Rule))
            if SEEDED_RULES:
                db.session.execute(insert(Rule), SEEDED_RULES)
            db.session.commit()

    reseed()
    yield
    reseed()
