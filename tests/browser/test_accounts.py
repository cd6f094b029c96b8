"""Registering, logging in and out in the browser, and the session renewing itself."""

import asyncio

from playwright.async_api import Request, expect

from devsupport.accounts import PASSWORD, new_email
from tests.browser.conftest import App, OpenApp
from tests.conftest import MAX_FAILURES


async def test_register_through_the_modal_with_its_errors_in_the_form(open_app: OpenApp) -> None:
    app = await open_app(timezone_id="Pacific/Kiritimati")
    await app.expect_visitor()
    await app.shoot("visitor")
    taken = await app.register()
    await app.log_out()
    registrations = app.watch_requests("POST", "/api/user")

    form = await app.fill_registration(new_email("browser"), PASSWORD, repeat="another password")
    repeat = form.get_by_label("Repeat password")
    await expect(repeat).to_have_attribute("aria-invalid", "true")
    await expect(repeat).to_have_accessible_description(
        "The two passwords differ; type the same one twice."
    )
    await expect(repeat).to_be_focused()
    assert registrations == [], "a mismatched repeat is caught before anything is sent"

    await app.fill_registration(new_email("browser"), "short")
    password = form.get_by_label("Password", exact=True)
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("#register-password-error")).to_contain_text("at least 8 characters")
    await expect(repeat).not_to_have_attribute("aria-invalid", "true")

    await app.fill_registration(taken.upper(), PASSWORD)
    email = form.get_by_label("Email")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_accessible_description("This email is already taken")
    await expect(password).not_to_have_attribute("aria-invalid", "true")
    await app.shoot("register-taken-email")

    fresh = new_email("browser")
    await app.fill_registration(fresh, PASSWORD)
    await expect(form).to_be_hidden()
    await app.expect_logged_in(fresh)
    await expect(app.new_task_field).to_be_focused()
    await app.shoot("registered")
    me = await app.api("GET", "/api/user")
    assert me.status == 200
    assert (await me.json())["email"] == fresh
    assert (await me.json())["timezone"] == "Pacific/Kiritimati", "the browser's timezone is sent"


async def test_log_out_then_log_in(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()

    await app.log_out()
    assert (await app.api("GET", "/api/user")).status == 401
    await app.reload()
    await app.expect_visitor()

    form = await app.log_in(email)
    await expect(form).to_be_hidden()
    await app.expect_logged_in(email)
    await app.reload()
    await app.expect_logged_in(email)


async def test_a_wrong_password_is_reported_at_the_top_of_the_form(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    await app.log_out()

    form = await app.log_in(email, "not the password")

    await expect(form.get_by_role("alert")).to_have_text("Wrong email or password")
    await expect(form).to_be_visible()
    await expect(form.get_by_label("Email")).to_be_focused()
    await app.shoot("wrong-password")
    await app.log_in(email)
    await expect(form).to_be_hidden()
    await app.expect_logged_in(email)


async def test_too_many_attempts_say_when_to_try_again(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    await app.log_out()

    form = await app.log_in(email, "wrong 1")
    alert = form.get_by_role("alert")
    await expect(alert).to_have_text("Wrong email or password")
    for attempt in range(2, MAX_FAILURES + 1):
        async with app.page.expect_response("**/api/session"):
            await app.log_in(email, f"wrong {attempt}")
    await app.log_in(email)

    await expect(alert).to_contain_text("Too many failed attempts")
    await expect(alert).to_contain_text("You can try again in")
    await app.shoot("throttled")


async def test_an_expired_access_cookie_is_renewed_once_for_parallel_calls(
    open_app: OpenApp,
) -> None:
    app = await open_app()
    email = await app.register()
    renewals = app.watch_requests("POST", "/api/session/refresh")

    await app.context.clear_cookies(name="tt_access")  # as when the access token expires
    await app.reload()
    await app.expect_logged_in(email)
    assert len(renewals) == 1

    await app.context.clear_cookies(name="tt_access")
    statuses = await app.page.evaluate(
        """async () => {
            const calls = [1, 2, 3].map(() => TaskTracker.api.call("GET", "/api/user"));
            return (await Promise.all(calls)).map((reply) => reply.status);
        }"""
    )
    assert statuses == [200, 200, 200]
    assert len(renewals) == 2, "three calls refused at once share one renewal"


async def test_a_session_that_ended_elsewhere_returns_to_the_visitor_page(
    open_app: OpenApp,
) -> None:
    app = await open_app()
    await app.register()

    assert (await app.api("DELETE", "/api/session")).status == 204  # logged out in another tab
    await app.new_task_field.fill("Written after the session ended")
    await app.add_button.click()

    await app.expect_visitor()
    await expect(app.page.locator("#notice")).to_contain_text("Your session has ended")
    await expect(app.page.locator(".task-item")).to_have_count(0)


async def test_two_tabs_renewing_at_once_stay_logged_in(open_app: OpenApp) -> None:
    app = await open_app()
    email = await app.register()
    other = App(await app.context.new_page(), app.base_url, f"{app.name}-tab-2")
    await other.open()
    await other.expect_logged_in(email)
    renewals: list[Request] = []
    app.context.on(
        "request",
        lambda request: renewals.append(request) if "/api/session/refresh" in request.url else None,
    )

    # As when a browser restores its tabs after the access cookie expired.
    await app.context.clear_cookies(name="tt_access")
    calls = """async () => {
        const calls = [1, 2].map(() => TaskTracker.api.call("GET", "/api/tasks"));
        return (await Promise.all(calls)).map((reply) => reply.status);
    }"""
    statuses = await asyncio.gather(app.page.evaluate(calls), other.page.evaluate(calls))

    assert list(statuses) == [[200, 200], [200, 200]]
    assert len(renewals) == 1, "one tab renews for all of them"
    for tab in (app, other):
        await tab.reload()
        await tab.expect_logged_in(email)
    assert (await app.api("GET", "/api/user")).status == 200
