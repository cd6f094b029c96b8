"""The task list in the browser: adding, editing without a Save button, done, deleting."""

import asyncio
import time

from playwright.async_api import Response, expect

from tests.browser.conftest import App, OpenApp

XSS_TITLE = "<img src=x onerror=alert(1)>"


async def test_add_tasks_with_the_button_and_with_enter(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await expect(app.page.locator("#open-empty")).to_be_visible()

    await app.add_task("Buy milk")
    await expect(app.new_task_field).to_have_value("")
    await app.add_task("Water the plants", press_enter=True)
    await expect(app.new_task_field).to_be_focused()
    await app.new_task_field.press("Enter")  # nothing typed: nothing added, the field says why
    await expect(app.new_task_field).to_have_attribute("aria-invalid", "true")
    await app.shoot("two-tasks")

    await app.reload()
    await expect(app.titles("open")).to_have_text(["Water the plants", "Buy milk"])
    await expect(app.page.locator("#open-count")).to_have_text("2")
    await expect(app.page.locator("#done-empty")).to_be_visible()


async def test_edits_save_themselves_and_survive_a_reload(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Draft")
    patches = app.watch_requests("PATCH", "/api/tasks/")

    modal = await app.open_task("Draft")
    await app.expect_saved()
    await expect(modal.get_by_role("button", name="Save")).to_have_count(0)
    await modal.get_by_label("Title").fill("Write the report")
    await expect(app.save_state).to_have_text("Saving…")
    await modal.get_by_label("Description").fill("Sections:\n1. figures\n2. <b>conclusions</b>")
    await app.expect_saved()
    await app.shoot("task-modal")
    await app.close_task()
    await expect(app.task("Write the report").get_by_role("button")).to_be_focused()

    await app.reload()
    await expect(app.titles("open")).to_have_text(["Write the report"])
    modal = await app.open_task("Write the report")
    await expect(modal.get_by_label("Description")).to_have_value(
        "Sections:\n1. figures\n2. <b>conclusions</b>"
    )
    assert patches, "edits are sent as PATCH"
    assert all(request.headers.get("if-match") for request in patches)
    assert len(patches) <= 3, "typing is saved after a pause, not once per key"


async def test_an_edit_is_kept_when_the_modal_closes_or_the_page_reloads_at_once(
    open_app: OpenApp,
) -> None:
    app = await open_app(load=False)
    clock = app.page.clock
    await clock.install()
    await app.open()
    await app.register()
    await app.add_task("Call the plumber")

    modal = await app.open_task("Call the plumber")
    await clock.pause_at(time.time() + 60)  # from here the pause before saving never ends
    await modal.get_by_label("Description").fill("Closed before the pause ended")
    async with app.page.expect_request(lambda request: request.method == "PATCH"):
        await app.page.keyboard.press("Escape")
    await clock.resume()
    await expect(modal).to_be_hidden()
    await app.reload()
    modal = await app.open_task("Call the plumber")
    await expect(modal.get_by_label("Description")).to_have_value("Closed before the pause ended")

    await clock.pause_at(time.time() + 120)
    await modal.get_by_label("Description").fill("Reloaded before the pause ended")
    await app.page.reload()  # the modal still open, the edit waiting for a pause that never ends
    await clock.resume()
    await app.expect_loaded()
    # The edit left with the old page, as a keepalive request that may land after the new
    # page loaded the list: once the server has it, the list shows it.
    await wait_for_description(app, "Call the plumber", "Reloaded before the pause ended")
    await app.reload()
    modal = await app.open_task("Call the plumber")
    await expect(modal.get_by_label("Description")).to_have_value("Reloaded before the pause ended")


async def wait_for_description(app: App, title: str, description: str) -> None:
    """Until the server holds ``description`` for the task ``title`` (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        response = await app.page.request.get(f"{app.base_url}/api/tasks")
        tasks = {task["title"]: task["description"] for task in await response.json()}
        if tasks.get(title) == description or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.1)


async def test_a_save_that_fails_says_so_and_is_sent_again(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Renew the passport")
    modal = await app.open_task("Renew the passport")

    await app.context.set_offline(True)
    await modal.get_by_label("Description").fill("Photos first")
    await expect(app.save_state).to_have_text(
        "Not saved: the server cannot be reached; trying again shortly."
    )
    await app.shoot("save-failed")
    await app.context.set_offline(False)
    await app.close_task()  # closing sends what is waiting at once

    await app.reload()
    modal = await app.open_task("Renew the passport")
    await expect(modal.get_by_label("Description")).to_have_value("Photos first")
    offline = "net::ERR_INTERNET_DISCONNECTED"
    app.problems[:] = [problem for problem in app.problems if offline not in problem]


async def test_ticking_done_moves_the_task_and_unticking_moves_it_back(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Pay rent")
    await app.add_task("Book flights")

    modal = await app.open_task("Pay rent")
    await modal.get_by_label("Done").check()
    await expect(app.task("Pay rent", "done")).to_have_count(1)
    await app.expect_saved()
    await app.close_task()
    await expect(app.task("Pay rent", "done")).to_contain_text("Done ")
    await app.shoot("one-done")
    await app.reload()
    await expect(app.titles("done")).to_have_text(["Pay rent"])
    await expect(app.titles("open")).to_have_text(["Book flights"])

    modal = await app.open_task("Pay rent")
    await expect(modal.get_by_label("Done")).to_be_checked()
    await modal.get_by_label("Done").uncheck()
    await expect(app.task("Pay rent", "open")).to_have_count(1)
    await app.expect_saved()
    await app.close_task()
    await app.reload()
    await expect(app.titles("open")).to_have_text(["Book flights", "Pay rent"])
    await expect(app.titles("done")).to_have_count(0)


async def test_delete_removes_the_task_for_good(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    await app.add_task("Keep me")
    await app.add_task("Throw me away")

    modal = await app.open_task("Throw me away")
    await modal.get_by_role("button", name="Delete").click()
    await expect(modal).to_be_hidden()
    await expect(app.task("Throw me away")).to_have_count(0)
    await expect(app.page.locator("#undo-bar")).to_contain_text("Deleted “Throw me away”")

    await app.reload()  # before the Undo offer ends: leaving the page sends the deletion
    await expect(app.titles("open")).to_have_text(["Keep me"])


async def test_a_change_made_elsewhere_meanwhile_reloads_the_task(open_app: OpenApp) -> None:
    """Without the live stream (it would bring the change in before the save), the save
    meets the newer version: 412, and the dialog loads the task again."""
    app = await open_app()
    await app.page.route("**/api/tasks/events*", lambda route: route.fulfill(status=401, body="{}"))
    await app.register()
    await app.add_task("Plan the trip")
    listed = await (await app.api("GET", "/api/tasks")).json()
    task = next(t for t in listed if t["title"] == "Plan the trip")

    modal = await app.open_task("Plan the trip")
    changed = await app.api("PATCH", f"/api/tasks/{task['id']}", {"title": "Plan the trip to Rome"})
    assert changed.status == 200
    await modal.get_by_label("Description").fill("Trains or flights?")

    await expect(modal.get_by_role("alert")).to_contain_text("changed somewhere else")
    await expect(modal.get_by_label("Title")).to_have_value("Plan the trip to Rome")
    await expect(app.save_state).to_have_text("Loaded again")
    await expect(app.task("Plan the trip to Rome")).to_have_count(1)
    await app.shoot("conflict")
    await modal.get_by_label("Description").fill("Trains, then")
    await app.expect_saved()
    stored = await (await app.api("GET", f"/api/tasks/{task['id']}")).json()
    assert stored["description"] == "Trains, then"


async def test_markup_in_a_title_is_shown_as_text_and_never_run(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()

    item = await app.add_task(XSS_TITLE)
    await expect(item.get_by_role("button")).to_have_text(XSS_TITLE)
    await expect(app.page.locator(".task-list img")).to_have_count(0)
    modal = await app.open_task(XSS_TITLE)
    await expect(modal.get_by_label("Title")).to_have_value(XSS_TITLE)
    await modal.get_by_label("Description").fill("<script>alert(2)</script>")
    await app.expect_saved()
    await app.close_task()
    await app.reload()
    await expect(app.task(XSS_TITLE)).to_contain_text("<script>alert(2)</script>")
    await app.shoot("markup-as-text")
    await app.page.wait_for_timeout(300)  # time for an injected handler to fire, were there one
    assert app.dialogs == []
    assert await app.page.locator("img").count() == 0


async def test_two_people_never_see_each_others_tasks(open_app: OpenApp) -> None:
    alice, bob = await open_app(), await open_app()
    await alice.register()
    await bob.register()
    await alice.add_task("Alice's secret")
    await bob.add_task("Bob's secret")

    await alice.reload()
    await bob.reload()
    await expect(alice.titles("open")).to_have_text(["Alice's secret"])
    await expect(bob.titles("open")).to_have_text(["Bob's secret"])
    alices_task = (await (await alice.api("GET", "/api/tasks")).json())[0]
    assert (await bob.api("GET", f"/api/tasks/{alices_task['id']}")).status == 404
    assert (await bob.api("DELETE", f"/api/tasks/{alices_task['id']}")).status == 404
    await alice.reload()
    await expect(alice.titles("open")).to_have_text(["Alice's secret"])


async def test_every_page_of_a_long_list_is_shown(open_app: OpenApp) -> None:
    app = await open_app()
    await app.register()
    for number in range(1, 131):
        created = await app.api("POST", "/api/tasks", {"title": f"Task {number:03}"})
        assert created.status == 201
    links: list[str] = []

    def record(response: Response) -> None:
        if "/api/tasks?" in response.url:
            links.append(response.headers.get("link", ""))

    app.page.on("response", record)

    await app.reload()

    await expect(app.page.locator("#open-count")).to_have_text("130")
    await expect(app.titles("open")).to_have_text([f"Task {n:03}" for n in range(130, 0, -1)])
    assert any('rel="next"' in link for link in links), "the list came in several pages"
