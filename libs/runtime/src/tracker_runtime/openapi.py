"""The OpenAPI description tells the truth about errors: every error answer is the pinned
body ``{"message": ..., "errors": [...]?}`` (``tracker_runtime.errors``), never FastAPI's
``{"detail": ...}``, and an operation that reads a body documents what a body that cannot
be read gets (400 not JSON or nested too deeply, 413 too large, 415 another media type,
422 invalid).

Installed by ``tracker_runtime.web.prepare_app`` on every service, so that clients, and the
schemathesis run of ``make test``, can hold the services to their description.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

ERROR_SCHEMA = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
BODY_ERRORS = {
    "400": "The body is not valid JSON, or is nested too deeply",
    "413": "The body is too large",
    "415": "The body is neither JSON nor a form",
    "422": "Invalid input",
}
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class FieldError(BaseModel):
    field: str | None = Field(description="The field, dotted for nested ones; null for the body")
    message: str


class Error(BaseModel):
    """The body of every error answer."""

    message: str = Field(description="What went wrong, for a person to read")
    errors: list[FieldError] | None = Field(
        default=None, description="One entry per invalid field (422)"
    )


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the error answers as they are."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _with_error_bodies(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_error_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components[ERROR_SCHEMA] = error_schema
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    for path_item in schema.get("paths", {}).values():
        for method in METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for status, description in BODY_ERRORS.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return schema
