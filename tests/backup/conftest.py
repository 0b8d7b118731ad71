"""Extra throw-away databases to restore into, and apps built on them (beside the session's `app`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import PG_ADMIN_URL, RUN_ID, admin_exec, make_config


@pytest.fixture
def fresh_database() -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (URLs) on demand; each is dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"cm_test_{RUN_ID}_restore_{uuid.uuid4().hex[:8]}"
        admin_exec(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"

    yield make
    for name in made:
        admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_on(redis_prefix: str, keep_limiter: None) -> Callable[..., object]:
    """An app on another database URL (PostgreSQL or sqlite:///path), with config overrides."""
    from cronmanager import create_app

    def make(url: str, **overrides: object):
        return create_app(make_config(url, redis_prefix, **overrides))

    return make
