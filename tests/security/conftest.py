"""The security suite attacks a running instance from outside: a real `flask run` subprocess on 127.0.0.1, spoken
to over HTTP with `requests` (real CSRF, real rate limits, real cookies). The test process only prepares rows
(users, through the same database) and reads what the server stored.

Limits that would take thousands of requests to reach are set low through their settings (the defaults are
checked in tests/unit/test_config.py); everything else runs with production defaults.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import TEST_REDIS_URL
from tests.stack import Proc, process_env, wait_for

PASSWORD = "correct horse battery"
METRICS_TOKEN = "scrape-secret-0123456789"
SERVER_ENV = {
    "AUTH_RATE_LIMIT": "25/minute", "API_RATE_LIMIT": "1000/minute", "LOGIN_MAX_FAILURES": "5",
    "MAX_JOBS_PER_OWNER": "5", "MAX_TOKENS_PER_OWNER": "4", "MAX_CHANNELS_PER_OWNER": "2",
    "SSE_MAX_STREAMS_PER_USER": "3", "SSE_HEARTBEAT_S": "0.5", "METRICS_TOKEN": METRICS_TOKEN,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")  # stopped when the package is done: its event hub shares our Redis channel
def server(app, database_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the running instance (the session `app` fixture has migrated its database)."""
    port = _free_port()
    env = process_env(database_url, TEST_REDIS_URL, redis_prefix, **SERVER_ENV)
    log_dir = tmp_path_factory.mktemp("security-server")
    proc = Proc(f"run --host 127.0.0.1 --port {port} --with-threads --no-reload", env, log_dir, "web")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.popen.poll() is not None:
            raise AssertionError(f"server exited:\n{proc.output()}")
        try:
            return requests.get(f"{base}/login", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=60, message="the web server to answer")
    yield base
    proc.stop()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def browser_login(base: str, email: str, password: str = PASSWORD, remember: bool = False) -> requests.Session:
    """Sign in through the login form like a browser does (CSRF token from the page)."""
    s = requests.Session()
    token = csrf_from(s.get(f"{base}/login", timeout=10).text)
    data = {"csrf_token": token, "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    resp = s.post(f"{base}/login", data=data, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    return s


def page_csrf(s: requests.Session, base: str, path: str = "/settings") -> str:
    return csrf_from(s.get(f"{base}{path}", timeout=10).text)


def api_login(base: str, email: str, password: str = PASSWORD) -> dict:
    resp = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def me(base: str, *, token: str | None = None, session: requests.Session | None = None) -> int:
    """Status of GET /api/v1/auth/me with a bearer token or a browser's cookies."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = session or requests
    return client.get(f"{base}/api/v1/auth/me", headers=headers, timeout=10).status_code


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def copy_cookies(source: requests.Session, names: set[str] | None = None) -> requests.Session:
    """What an attacker holding a stolen cookie has: a fresh client with (some of) the victim's cookies."""
    thief = requests.Session()
    for cookie in source.cookies:
        if names is None or cookie.name in names:
            thief.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief

