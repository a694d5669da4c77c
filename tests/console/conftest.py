"""One Chromium for the console's tests (Debian's, headless), and a fresh browser context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from support.console import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, shared by the console's tests and closed after the last of them: the
    sync API keeps an event loop running in this thread while it is open, and the rest of the suite runs loops of
    its own. Skips without it, fails with TOCSIN_REQUIRE_BROWSER set (as CI does)."""
    if not CHROMIUM.exists():
        if os.environ.get("TOCSIN_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A browser context of its own (cookies, storage) in New York time, 1280 px wide."""
    made = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York", locale="en-US")
    made.set_default_timeout(15_000)
    try:
        yield made
    finally:
        made.close()
