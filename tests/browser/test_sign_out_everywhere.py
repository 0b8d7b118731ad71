"""Settings' "Sign out everywhere" in a real browser: the other browser's session ends too (SPEC §6, §9)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sign_out_everywhere_ends_the_other_browsers_session(page: Page, browser: Browser, base_url: str, owner,
                                                           errors):
    other = browser.new_context(base_url=base_url)
    other_page = other.new_page()
    try:
        login(other_page, owner)
        login(page, owner)
        page.goto("/settings")
        button = page.get_by_role("button", name="Sign out everywhere")
        expect(button).to_be_visible()
        button.scroll_into_view_if_needed()
        shot(page, "settings-sign-out-everywhere")
        button.click()
        page.wait_for_url(re.compile(r"/login"))
        expect(page.locator("#toasts")).to_contain_text("signed out everywhere")
        other_page.goto("/settings")
        other_page.wait_for_url(re.compile(r"/login"))  # the other browser was signed out as well
        assert errors == []
    finally:
        other.close()
