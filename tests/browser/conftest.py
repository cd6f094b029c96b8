"""Browser tests: Debian's Chromium, driven by Playwright, on the stack as `make dev` runs it.

Playwright's async API runs on pytest-asyncio's session loop. (Its sync API keeps an event
loop of its own marked as running for as long as the browser is open, which breaks every
other use of asyncio in the same process, such as the stack fixture's queue purge.)

Each test opens its own browser contexts (separate cookies and cache, like separate
people) through the ``open_app`` factory. Whatever goes wrong in a page without failing an
assertion (a script error, a Content-Security-Policy refusal, a server error, an unexpected
dialog) still fails the test when its contexts close. Screenshots go to
``test-artifacts/browser/``; measured figures are printed at the end of the run and
written to ``test-artifacts/metrics.json``.
"""

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    APIResponse,
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Request,
    async_playwright,
    expect,
)

from devsupport.accounts import PASSWORD, new_email
from tests.conftest import ROOT, Stack

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "browser"
# Chromium reports every 4xx answer to a script's request on the console; those are
# answers the app expects (401 before logging in, 409, 412, ...), not problems.
EXPECTED_CONSOLE = re.compile(r"^Failed to load resource: the server responded with a status of 4")

METRICS: dict[str, Any] = {}
MAIL_WITHIN = 30.0
"""Seconds for a mail to reach the stack's mail catcher."""
MAIL_LINK = re.compile(r"https?://[^\s\"'<>]+/#(verify-email|reset-password)=[A-Za-z0-9_.~%-]+")


@dataclass
class App:
    """One person's tab on the web app, with the steps a person takes."""

    page: Page
    base_url: str
    name: str
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def context(self) -> BrowserContext:
        return self.page.context

    async def open(self) -> None:
        await self.page.goto(self.base_url + "/")
        await self.expect_loaded()

    async def reload(self) -> None:
        await self.page.reload()
        await self.expect_loaded()

    async def expect_loaded(self) -> None:
        """The page knows who is there and, for a person, has listed their tasks."""
        await expect(self.page.locator("#loading")).to_be_hidden()
        await expect(self.page.locator("#tasks-view[aria-busy]")).to_have_count(0)

    async def shoot(self, name: str) -> None:
        await self.page.screenshot(path=SCREENSHOTS / f"{self.name}-{name}.png", full_page=True)

    # Accounts

    @property
    def header(self) -> Locator:
        return self.page.locator("header")

    def dialog(self, name: str) -> Locator:
        return self.page.get_by_role("dialog", name=name)

    async def form(self, name: str) -> Locator:
        """The Register or Log in dialog, opened with its header button if it is closed."""
        form = self.dialog(name)
        if not await form.is_visible():
            await self.header.get_by_role("button", name=name).click()
            await expect(form.get_by_label("Email")).to_be_focused()
        return form

    async def fill_registration(
        self, email: str, password: str = PASSWORD, repeat: str | None = None
    ) -> Locator:
        form = await self.form("Register")
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password", exact=True).fill(password)
        await form.get_by_label("Repeat password").fill(password if repeat is None else repeat)
        await form.get_by_role("button", name="Register").click()
        return form

    async def register(self, email: str | None = None) -> str:
        email = email or new_email("browser")
        form = await self.fill_registration(email)
        await expect(form).to_be_hidden()
        await self.expect_logged_in(email)
        return email

    async def log_in(self, email: str, password: str = PASSWORD) -> Locator:
        form = await self.form("Log in")
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password").fill(password)
        await form.get_by_role("button", name="Log in").click()
        return form

    async def log_out(self) -> None:
        await self.header.get_by_role("button", name="Log out").click()
        await self.expect_visitor()

    async def expect_logged_in(self, email: str) -> None:
        await expect(self.header).to_contain_text(email)
        await expect(self.header.get_by_role("button", name="Log out")).to_be_visible()
        await expect(self.page.get_by_role("heading", name="Your tasks")).to_be_visible()
        await self.expect_loaded()

    async def expect_visitor(self) -> None:
        await expect(self.header.get_by_role("button", name="Log in")).to_be_visible()
        await expect(self.header.get_by_role("button", name="Register")).to_be_visible()
        await expect(self.header.get_by_role("button", name="Log out")).to_be_hidden()
        await expect(self.page.locator("#tasks-view")).to_be_hidden()

    # Tasks

    @property
    def new_task_field(self) -> Locator:
        return self.page.get_by_label("New task")

    @property
    def add_button(self) -> Locator:
        return self.page.get_by_role("button", name="Add", exact=True)

    async def add_task(self, title: str, *, press_enter: bool = False) -> Locator:
        await self.new_task_field.fill(title)
        if press_enter:
            await self.new_task_field.press("Enter")
        else:
            await self.add_button.click()
        item = self.task(title)
        await expect(item).to_be_visible()
        await expect(item).not_to_have_attribute("aria-busy", "true")
        return item

    def task(self, title: str, status: str | None = None) -> Locator:
        """The list row of the task with exactly this title, in one list or either."""
        lists = self.page.locator(f"#{status}-tasks" if status else ".task-list")
        return lists.locator(".task-item").filter(
            has=self.page.get_by_role("button", name=title, exact=True)
        )

    def titles(self, status: str) -> Locator:
        """The titles in the open or the done list, in order (for ``to_have_text([...])``)."""
        return self.page.locator(f"#{status}-tasks .task-open")

    async def open_task(self, title: str) -> Locator:
        await self.task(title).get_by_role("button", name=title, exact=True).click()
        modal = self.dialog("Task")
        await expect(modal).to_be_visible()
        await expect(modal.get_by_label("Title")).to_be_focused()
        return modal

    @property
    def save_state(self) -> Locator:
        return self.page.locator("#task-save-state")

    async def expect_saved(self) -> None:
        await expect(self.save_state).to_have_text("All changes saved")

    async def close_task(self) -> None:
        await self.page.keyboard.press("Escape")
        await expect(self.dialog("Task")).to_be_hidden()
        await expect(self.page.locator(".modal-backdrop")).to_have_count(0)

    def watch_requests(self, method: str, path: str) -> list[Request]:
        """The requests with that method, to URLs containing ``path``, from now on."""
        seen: list[Request] = []

        def record(request: Request) -> None:
            if request.method == method and path in request.url:
                seen.append(request)

        self.page.on("request", record)
        return seen

    # API calls on this person's cookies, as another of their devices would make them.

    async def api(self, method: str, path: str, data: dict[str, Any] | None = None) -> APIResponse:
        return await self.context.request.fetch(self.base_url + path, method=method, data=data)

    # Settings

    async def open_settings(self) -> Locator:
        await self.header.get_by_role("button", name="Settings").click()
        modal = self.dialog("Settings")
        await expect(modal).to_be_visible()
        await expect(modal.get_by_label("Timezone")).to_be_focused()
        return modal

    @property
    def settings_state(self) -> Locator:
        return self.page.locator("#settings-save-state")

    @property
    def notice(self) -> Locator:
        return self.page.locator("#notice")


async def mail_links(stack: Stack, email: str, kind: str, count: int = 1) -> list[str]:
    """The ``kind`` links (``verify-email``, ``reset-password``) in the plain text of the
    mails to ``email``, oldest first, once there are at least ``count``."""
    deadline = time.monotonic() + MAIL_WITHIN
    while True:
        links = []
        for message in stack.mails_to(email):
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            links += [
                match.group(0) for match in MAIL_LINK.finditer(text) if match.group(1) == kind
            ]
        if len(links) >= count:
            return links
        if time.monotonic() > deadline:
            pytest.fail(f"{count} mail(s) to {email} with a {kind} link never came: {links}")
        await asyncio.sleep(0.2)


OpenApp = Callable[..., Awaitable[App]]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (or set CHROMIUM_PATH)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(stack: Stack, chromium: Path) -> AsyncIterator[Browser]:
    """One headless Chromium for the run (the stack first: its setup uses asyncio.run)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def open_app(
    browser: Browser, stack: Stack, request: pytest.FixtureRequest
) -> AsyncIterator[OpenApp]:
    """``await open_app(**context_options)``: a new person's tab, the app loaded."""
    apps: list[App] = []
    test_name = re.sub(r"\W+", "-", request.node.name).strip("-")

    async def open_new(*, load: bool = True, **context_options: Any) -> App:
        context = await browser.new_context(base_url=stack.gateway, **context_options)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        name = test_name if not apps else f"{test_name}-{len(apps) + 1}"
        app = App(page, stack.gateway, name)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not EXPECTED_CONSOLE.match(message.text):
                app.problems.append(f"console: {message.text}")

        async def on_dialog(dialog: Dialog) -> None:
            app.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: app.problems.append(f"page error: {error}"))
        page.on("dialog", on_dialog)
        apps.append(app)
        if load:
            await app.open()
        return app

    yield open_new

    for app in apps:
        await app.context.close()
    problems = [f"{app.name}: {problem}" for app in apps for problem in app.problems]
    dialogs = [f"{app.name}: {message}" for app in apps for message in app.dialogs]
    assert not problems, "the page reported problems:\n" + "\n".join(problems)
    assert not dialogs, "the page opened dialogs:\n" + "\n".join(dialogs)


@pytest.fixture(scope="session")
def metrics() -> dict[str, Any]:
    """Figures to print at the end of the run (measured, never asserted)."""
    return METRICS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not METRICS:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "metrics.json").write_text(json.dumps(METRICS, indent=2) + "\n")
    terminalreporter.section("web app figures (goals: first visit < 250 KB, add < 100 ms)")
    for line in METRICS.get("summary", []):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"details: {ARTIFACTS / 'metrics.json'}")
