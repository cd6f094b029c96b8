"""Tabs in step: every tab of a person holds the live stream, and a change made in one tab,
another device or through the API shows in every other within a second."""

from playwright.async_api import expect

from tests.browser.conftest import App, OpenApp

WITHIN_A_SECOND = 1000


async def live(app: App) -> None:
    """The tab's stream is open (it has had its ``ready``)."""
    await expect(app.page.locator("body")).to_have_attribute("data-live", "live")
    await expect(app.page.locator("#live-state")).to_be_hidden()


async def two_live_tabs(open_app: OpenApp) -> tuple[App, App]:
    """A new person, logged in, in two tabs of one browser, each holding its stream."""
    first = await open_app()
    await first.register()
    second = App(await first.context.new_page(), first.base_url, f"{first.name}-tab-2")
    await second.open()
    await live(first)
    await live(second)
    return first, second


async def test_two_tabs_stay_in_step_both_ways(open_app: OpenApp) -> None:
    first, second = await two_live_tabs(open_app)

    # Added in the first tab: listed in the second, once in each.
    await first.add_task("Water the plants")
    await expect(second.task("Water the plants", "open")).to_be_visible(timeout=WITHIN_A_SECOND)
    await expect(second.page.locator("#open-count")).to_have_text("1")
    await expect(first.titles("open")).to_have_text(["Water the plants"])

    # Ticked done in the second: moved to the done list of the first, with the counts.
    await second.task("Water the plants").locator(".task-check").check()
    await expect(first.task("Water the plants", "done")).to_be_visible(timeout=WITHIN_A_SECOND)
    await expect(first.page.locator("#done-count")).to_have_text("1")
    await expect(first.page.locator("#open-count")).to_have_text("0")

    # Renamed in the first tab's dialog: the second tab's list follows, and so does its
    # open dialog, in the fields it is not editing.
    await first.add_task("Draft the report")
    await expect(second.task("Draft the report")).to_be_visible(timeout=WITHIN_A_SECOND)
    other_dialog = await second.open_task("Draft the report")
    await other_dialog.get_by_label("Description").fill("Typed in the second tab")
    await second.expect_saved()
    dialog = await first.open_task("Draft the report")
    await expect(dialog.get_by_label("Description")).to_have_value(
        "Typed in the second tab", timeout=WITHIN_A_SECOND
    )
    await dialog.get_by_label("Title").fill("Write the report")
    await first.expect_saved()
    await expect(other_dialog.get_by_label("Title")).to_have_value(
        "Write the report", timeout=WITHIN_A_SECOND
    )
    await expect(second.task("Write the report")).to_be_visible()
    await first.close_task()
    await second.close_task()
    await expect(first.titles("open")).to_have_text(["Write the report"])
    await expect(second.titles("open")).to_have_text(["Write the report"])


async def test_an_api_change_shows_in_every_tab(open_app: OpenApp) -> None:
    first, second = await two_live_tabs(open_app)

    created = await first.api("POST", "/api/tasks", {"title": "From a script"})
    assert created.status == 201
    task = await created.json()
    for tab in (first, second):
        await expect(tab.task("From a script", "open")).to_be_visible(timeout=WITHIN_A_SECOND)

    # A task deleted elsewhere closes its dialog, with a notice.
    await second.open_task("From a script")
    deleted = await first.api("DELETE", f"/api/tasks/{task['id']}")
    assert deleted.status == 204
    await expect(second.dialog("Task")).to_be_hidden(timeout=WITHIN_A_SECOND)
    await expect(second.notice).to_contain_text("deleted somewhere else")
    for tab in (first, second):
        await expect(tab.task("From a script")).to_have_count(0)
        await expect(tab.page.locator("#open-empty")).to_be_visible()


async def test_a_refused_stream_shows_reconnecting_and_catches_up(open_app: OpenApp) -> None:
    app = await open_app()
    refused = "**/api/tasks/events*"  # as when the access cookie has expired
    await app.page.route(refused, lambda route: route.fulfill(status=401, body="{}"))
    await app.register()
    await expect(app.page.locator("#live-state")).to_be_visible()
    await expect(app.page.locator("#live-state")).to_have_text("Reconnecting…")

    # Changed meanwhile, elsewhere (an API client).
    created = await app.api("POST", "/api/tasks", {"title": "While away"})
    assert created.status == 201
    await app.page.unroute(refused)

    await live(app)
    await expect(app.task("While away", "open")).to_be_visible()
    await expect(app.titles("open")).to_have_text(["While away"])
