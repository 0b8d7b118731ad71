"""Browser tests: Debian's Chromium driven by Playwright against the session app served in a thread,
plus the real worker/scheduler processes and HTTP target of the e2e fixtures when a test needs them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.e2e.conftest import stack, target  # noqa: F401 - re-exported fixtures

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} missing: apt-get install -y chromium")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The session app on 127.0.0.1:<free port>, threaded (open SSE streams each hold a thread)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    return live_server


@pytest.fixture(autouse=True)
def _browser_config(app) -> Iterator[None]:
    """Real CSRF (the session app turns it off) and a short heartbeat so closed pages free their streams."""
    saved = {k: app.config.get(k) for k in ("WTF_CSRF_ENABLED", "SSE_HEARTBEAT_S")}
    app.config.update(WTF_CSRF_ENABLED=True, SSE_HEARTBEAT_S=1)
    yield
    app.config.update(saved)


@pytest.fixture
def errors(page) -> list[str]:
    """Console errors and uncaught exceptions (a CSP violation shows up here)."""
    found: list[str] = []
    page.on("console", lambda msg: found.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: found.append(f"pageerror: {exc}"))
    return found


def schedule_panels_settled(page) -> None:
    """The job form's schedule preview and its daylight-saving panel fetch after load and after typing, and redraw
    above the form's buttons: a click by position while one lands can hit the wrong button (seen under load:
    "Save changes" became "Preview changes", which stays on the edit page). Wait for both to settle first."""
    expect(page.locator("[data-state=loading]")).to_have_count(0)


def login(page, persona, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=email]", persona.email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def shot(page, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:  # scrolled, the sticky header and sidebar would be painted mid-page in the capture
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    return path
