"""A service's OpenAPI describes its error answers as they are: the pinned error body,
and the answers to a body that cannot be read."""

from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.web import prepare_app


class Thing(BaseModel):
    name: str


def make_app() -> FastAPI:
    app = FastAPI(title="example", version="1")
    prepare_app(app, trusted_origins=["http://localhost"])

    @app.post(
        "/things",
        openapi_extra=json_or_form_openapi(Thing),
        responses={409: {"description": "Taken"}},
    )
    async def add(thing: Annotated[Thing, Depends(json_or_form(Thing))]) -> Thing:
        return thing

    @app.get("/things")
    async def find(limit: int = 10) -> list[Thing]:
        return []

    return app


def test_every_error_answer_is_described_as_the_pinned_body() -> None:
    schema: dict[str, Any] = make_app().openapi()

    add = schema["paths"]["/things"]["post"]["responses"]
    find = schema["paths"]["/things"]["get"]["responses"]
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    assert {status for status in add if status >= "4"} == {"400", "409", "413", "415", "422"}
    assert all(add[status]["content"] == error for status in ("400", "409", "413", "415", "422"))
    assert find["422"]["content"] == error
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert set(components["Error"]["required"]) == {"message"}


async def test_the_answers_match_what_is_described() -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        invalid = await client.get("/things", params={"limit": "many"})
        not_json = await client.post(
            "/things", content=b"{", headers={"content-type": "application/json"}
        )

    assert invalid.status_code == 422
    assert set(invalid.json()) == {"message", "errors"}
    assert not_json.status_code == 400
    assert set(not_json.json()) == {"message"}
