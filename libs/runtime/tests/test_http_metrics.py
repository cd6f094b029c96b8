"""``/metrics`` of the HTTP services' shell: every request counted and timed by its route's
template and status, in the Prometheus text format."""

import os
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.support.metrics import sample
from tracker_runtime.migrations import ensure_database
from tracker_runtime.service import WebService

DATABASE_URL = os.environ["RUNTIME_TEST_DATABASE_URL"]
PUBLIC_URL = "http://localhost:8080"
REQUESTS = "tracker_http_requests_total"
DURATION_COUNT = "tracker_http_request_duration_seconds_count"


class ShellSettings:
    database_url = DATABASE_URL
    database_pool_size = 2
    log_level = "INFO"
    log_json = False
    public_url = PUBLIC_URL


router = APIRouter()


@router.get("/things/{thing_id}")
async def thing(thing_id: int) -> dict[str, int]:
    return {"id": thing_id}


@router.post("/things")
async def add_thing() -> dict[str, str]:
    return {"status": "added"}


@router.get("/broken")
async def broken() -> dict[str, str]:
    raise RuntimeError("a bug")


@pytest.fixture(scope="module", autouse=True)
async def database() -> None:
    await ensure_database(DATABASE_URL)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return WebService(ShellSettings()).app(
        title="shell", summary="A service with metrics", context=object(), routers=[router]
    )


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://shell")


def counted(method: str, route: str, status: int) -> dict[str, float]:
    labels = {"method": method, "route": route, "status": str(status)}
    return {name: sample(name, **labels) for name in (REQUESTS, DURATION_COUNT)}


def increased(before: dict[str, float], after: dict[str, float], by: int) -> bool:
    return all(after[name] - before[name] == by for name in before)


async def test_requests_are_counted_by_route_template_never_by_path(app: FastAPI) -> None:
    before = counted("GET", "/things/{thing_id}", 200)
    async with client(app) as http:
        for thing_id in (101, 102, 103):
            assert (await http.get(f"/things/{thing_id}")).status_code == 200
        text = (await http.get("/metrics")).text

    assert increased(before, counted("GET", "/things/{thing_id}", 200), by=3)
    labels = [
        value
        for family in text_string_to_metric_families(text)
        for found in family.samples
        for value in found.labels.values()
    ]
    assert not any("101" in value for value in labels), "no id in a label"


async def test_errors_are_counted_with_their_status(app: FastAPI) -> None:
    invalid = counted("GET", "/things/{thing_id}", 422)
    unmatched = counted("GET", "unmatched", 404)
    failed = counted("GET", "/broken", 500)
    refused = counted("POST", "/things", 403)
    odd_method = counted("other", "/things", 405)
    async with client(app) as http:
        assert (await http.get("/things/not-a-number")).status_code == 422
        assert (await http.get("/no/such/path/4711")).status_code == 404
        assert (await http.get("/broken")).status_code == 500
        cross_site = await http.post("/things", headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403
        assert (await http.request("BREW", "/things")).status_code == 405

    assert increased(invalid, counted("GET", "/things/{thing_id}", 422), by=1)
    assert increased(unmatched, counted("GET", "unmatched", 404), by=1)
    assert increased(failed, counted("GET", "/broken", 500), by=1)
    assert increased(refused, counted("POST", "/things", 403), by=1)
    assert increased(odd_method, counted("other", "/things", 405), by=1)


async def test_metrics_are_served_in_the_prometheus_text_format(app: FastAPI) -> None:
    async with client(app) as http:
        await http.get("/things/1")
        response = await http.get("/metrics")
        schema: dict[str, Any] = (await http.get("/openapi.json")).json()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"tracker_http_requests", "tracker_http_request_duration_seconds"} <= names
    assert "/metrics" not in schema["paths"], "not part of the public API"
