"""The browser fixtures of tests/browser (Chromium through Playwright, the app on a live server)."""

from tests.browser.conftest import (  # noqa: F401 - re-exported fixtures and hook
    _browser_config,
    base_url,
    browser_type_launch_args,
    errors,
    live_server,
    pytest_collection_modifyitems,
)
