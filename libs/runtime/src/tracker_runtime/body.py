"""Request bodies that may arrive as JSON or as an HTML form, with a size limit.

A browser form posts ``application/x-www-form-urlencoded``; API clients post JSON. Both
are validated by the same pydantic model, and every failure is a 4xx with a message.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import BaseModel, ValidationError

from tracker_runtime.errors import APIError, InvalidInput

ModelT = TypeVar("ModelT", bound=BaseModel)

DEFAULT_MAX_BODY_BYTES = 16 * 1024
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing with 413 as soon as it grows past ``max_bytes``."""
    too_large = APIError(413, f"The request body must not exceed {max_bytes} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type == JSON:
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise APIError(400, "The request body is not valid JSON") from error
        except RecursionError as error:
            # The parser recurses once per level of nesting: thousands of "[" exhaust the
            # stack long before the size limit is reached.
            raise APIError(400, "The request body is nested too deeply") from error
        if not isinstance(value, dict):
            raise APIError(422, "The request body must be a JSON object")
        return value
    try:
        text = raw.decode()
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (ValueError, UnicodeDecodeError) as error:
        raise APIError(400, "The form body could not be parsed") from error
    return dict(pairs)


async def parse_body(
    request: Request, model: type[ModelT], max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> ModelT:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (JSON, FORM):
        raise APIError(415, f"Send the body as {JSON} or {FORM}")
    data = _decode(content_type, await read_limited(request, max_bytes))
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from error


def json_or_form(
    model: type[ModelT], max_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> Callable[[Request], Awaitable[ModelT]]:
    """A dependency that parses the body into ``model``."""

    async def dependency(request: Request) -> ModelT:
        return await parse_body(request, model, max_bytes)

    return dependency


def json_or_form_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body read by :func:`json_or_form`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = {media: {"schema": schema} for media in (JSON, FORM)}
    return {"requestBody": {"required": True, "content": content}}
