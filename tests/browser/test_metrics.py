"""Figures a person feels, measured in the browser and printed at the end of the run.

They are recorded, not asserted (timings on a shared machine are not a pass/fail signal);
the tests fail only when the measurement itself cannot be made.
"""

import statistics
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import OpenApp

FIRST_VISIT_GOAL_KB = 250
ADD_GOAL_MS = 100
ADDS_MEASURED = 10

# Installed in the page before a click on Add: resolves with the milliseconds from the
# click to the first frame painted with the task in the list, and to the server's answer.
MEASURE_ADD = """(title) => {
    window.addMeasurement = new Promise((resolve) => {
        const list = document.getElementById("open-tasks");
        const button = document.querySelector("#add-task-form [type=submit]");
        let clickedAt = null;
        let waitingForFrame = false;
        let visible = null;
        let stored = null;
        const finish = () => {
            if (visible !== null && stored !== null) {
                observer.disconnect();
                resolve({ visible: visible, stored: stored });
            }
        };
        button.addEventListener("click", () => { clickedAt = performance.now(); },
                                { capture: true, once: true });
        const observer = new MutationObserver(() => {
            const item = [...list.querySelectorAll(".task-open")]
                .find((element) => element.textContent === title);
            if (!item || clickedAt === null) {
                return;
            }
            if (!waitingForFrame) {
                waitingForFrame = true;
                requestAnimationFrame(() => {
                    visible = performance.now() - clickedAt;
                    finish();
                });
            }
            if (stored === null && !item.closest("[aria-busy]")) {
                stored = performance.now() - clickedAt;
                finish();
            }
        });
        observer.observe(list, { childList: true, subtree: true });
    });
}"""


async def test_first_visit_transfer(open_app: OpenApp, metrics: dict[str, Any]) -> None:
    app = await open_app(load=False)
    cdp = await app.context.new_cdp_session(app.page)
    urls: dict[str, str] = {}
    transferred: dict[str, int] = {}

    def requested(event: dict[str, Any]) -> None:
        urls[event["requestId"]] = event["request"]["url"].removeprefix(app.base_url)

    def finished(event: dict[str, Any]) -> None:
        # Bytes on the wire: headers plus the body as sent (compressed).
        transferred[event["requestId"]] = int(event["encodedDataLength"])

    cdp.on("Network.requestWillBeSent", requested)
    cdp.on("Network.loadingFinished", finished)
    await cdp.send("Network.enable")

    await app.open()
    await app.expect_visitor()
    await app.page.wait_for_load_state("networkidle")

    by_url = {urls.get(key, key): size for key, size in transferred.items()}
    total_kb = sum(by_url.values()) / 1000
    assert by_url, "the browser reported the transfers"
    metrics["first_visit"] = {"total_kb": round(total_kb, 1), "requests": by_url}

    await app.reload()  # a second visit: the fingerprinted assets come from the cache
    await app.page.wait_for_load_state("networkidle")
    second = sum(transferred.values()) - sum(by_url.values())
    metrics["repeat_visit_kb"] = round(second / 1000, 1)
    metrics.setdefault("summary", []).append(
        f"first visit: {total_kb:.1f} KB transferred in {len(by_url)} requests "
        f"(goal < {FIRST_VISIT_GOAL_KB} KB); repeat visit: {second / 1000:.1f} KB"
    )


async def test_time_from_add_to_visible(open_app: OpenApp, metrics: dict[str, Any]) -> None:
    app = await open_app()
    await app.register()
    visible: list[float] = []
    stored: list[float] = []

    for number in range(ADDS_MEASURED):
        title = f"Measured task {number}"
        await app.new_task_field.fill(title)
        await app.page.evaluate(MEASURE_ADD, title)
        await app.add_button.click()
        result = await app.page.evaluate("window.addMeasurement")
        visible.append(result["visible"])
        stored.append(result["stored"])
        await expect(app.task(title)).to_be_visible()

    metrics["add_to_visible_ms"] = {
        "median": round(statistics.median(visible), 1),
        "max": round(max(visible), 1),
        "stored_median": round(statistics.median(stored), 1),
        "stored_max": round(max(stored), 1),
        "samples": ADDS_MEASURED,
    }
    metrics.setdefault("summary", []).append(
        f"add to visible: median {statistics.median(visible):.1f} ms, max {max(visible):.1f} ms "
        f"(goal < {ADD_GOAL_MS} ms); stored by the server: median "
        f"{statistics.median(stored):.1f} ms, max {max(stored):.1f} ms ({ADDS_MEASURED} adds)"
    )
