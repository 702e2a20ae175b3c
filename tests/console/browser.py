"""Driving the console in a real browser: Debian's chromium through Playwright.

Playwright's own browser download cannot work here (no internet), so the tests launch
the system's `chromium` by path. Each person gets a browser context of their own (their
own cookies), signs in through the 登录 page, and every page they see is saved as a
screenshot under `.artifacts/console/` (CI keeps it; look at them). Any JavaScript error
on a page, and any request that failed, fails the test: `Person.check()`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# as root, in a sandbox with no network: no sandbox, no GPU, no calls home
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS",
                                Path(__file__).parents[2] / ".artifacts")) / "console"
VIEWPORT = {"width": 1366, "height": 768}  # the offices' screens


@dataclass
class Person:
    """One person at their own browser."""

    name: str
    page: Page
    base: str
    problems: list[str] = field(default_factory=list)
    shots: int = 0

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, what: str) -> Path:
        """Save the page as it is now (`<n>-<person>-<what>.png`)."""
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def flash(self) -> str:
        """The outcome line the last form left (ok or error)."""
        found = self.page.locator(".flash")
        return found.first.inner_text() if found.count() else ""

    def check(self) -> None:
        """No JavaScript error and no failed request on any page; then the browser context
        closes (its live lists' streams with it)."""
        self.page.context.close()
        assert not self.problems, f"{self.name}: {self.problems}"


def submit(person: Person, form: str, button: str | None = None) -> str:
    """Press the form's button (the one labelled `button`, else its first); the outcome
    line of the page it led to."""
    target = person.page.locator(form)
    (target.locator(f"button:has-text('{button}')") if button else
     target.locator("button")).first.click()
    person.page.wait_for_load_state()
    return person.flash()


def open_person(browser: Browser, base: str, name: str, login: str, password: str,
                role: str = "") -> Person:
    """A new browser context for `login`, signed in through the page."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN",  # type: ignore[arg-type]
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    person = Person(name, page, base)
    page.on("console", lambda m: _console(person, m))
    page.on("pageerror", lambda e: person.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: _failed(person, r))
    page.on("response", lambda r: _bad(person, r))
    person.go("/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    if role:
        page.select_option("select[name=role]", role)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{login} could not sign in: {person.flash()}"
    return person


def _console(person: Person, message: ConsoleMessage) -> None:
    if message.type == "error":
        where = message.location.get("url", "")
        person.problems.append(f"console error: {message.text} {where}")


def _failed(person: Person, request: Request) -> None:
    # a live list's event stream is cut when the page is left: that is not a failure
    if request.failure == "net::ERR_ABORTED" and re.search(r"/events$", request.url):
        return
    person.problems.append(f"request failed: {request.url} {request.failure}")


def _bad(person: Person, response: Response) -> None:
    """A 5xx, or a static file that is missing, is a failure of the page."""
    if response.status >= 500 or ("/static/" in response.url and response.status >= 400):
        person.problems.append(f"{response.status} {response.url}")
