import asyncio
import uuid

import httpx

from devsupport.accounts import Account
from tests.support.metrics import scraped


async def test_healthz_answers_while_the_process_lives(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database_the_outbox_and_the_subscriber(
    client: httpx.AsyncClient,
) -> None:
    async with asyncio.timeout(5):  # the subscriber connects in the background at start
        while (response := await client.get("/readyz")).json()["checks"]["session_events"][
            "status"
        ] != "up":
            await asyncio.sleep(0.05)

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "up"
    assert checks["outbox"]["status"] == "up"
    assert checks["outbox"]["pending"] == 0
    assert checks["session_events"] == {
        "status": "up",
        "queue": "tasks.events",
        "held_for_database": 0,
    }


async def test_the_openapi_description_is_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    docs = await client.get("/docs")

    assert docs.status_code == 200
    assert {"/api/tasks", "/api/tasks/{task_id}", "/internal/summaries"} <= set(schema["paths"])


async def test_metrics_are_served_with_requests_by_route_the_outbox_and_live_streams(
    client: httpx.AsyncClient, alice: Account
) -> None:
    missing = await client.get(f"/api/tasks/{uuid.uuid4()}", headers=alice.headers)
    assert missing.status_code == 404

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = {"method": "GET", "route": "/api/tasks/{task_id}", "status": "404"}
    assert scraped(text, "tracker_http_requests_total", **route) >= 1
    assert scraped(text, "tracker_http_request_duration_seconds_count", **route) >= 1
    assert "tracker_outbox_pending " in text
    assert "tracker_outbox_oldest_pending_age_seconds " in text
    assert "tracker_live_streams 0.0" in text
