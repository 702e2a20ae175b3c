"""One chromium for the browser tests of this package (each person has a context of their
own, so nothing leaks between tests).

Package scope, not session: Playwright's sync API keeps an event loop running in this
thread while it is open, and pytest-asyncio cannot start the loops of the async tests
that follow while that loop runs. It must be closed when the last browser test is done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.console.browser import ARGS, CHROMIUM


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()
