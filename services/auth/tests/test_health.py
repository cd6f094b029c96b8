import httpx

from devsupport.accounts import Account
from tests.support.metrics import scraped


async def test_healthz_answers_while_the_process_lives(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "up"


async def test_metrics_are_served_with_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    route = {"method": "GET", "route": "/healthz", "status": "200"}
    assert scraped(response.text, "tracker_http_requests_total", **route) >= 1
    assert "tracker_outbox_pending " in response.text
