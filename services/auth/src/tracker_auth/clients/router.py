"""Service tokens for other services (OAuth 2 client credentials, RFC 6749 §4.4).

Internal: the gateway does not route ``/internal``. A client authenticates with HTTP Basic
(or ``client_id`` and ``client_secret`` in the form) and gets a short-lived token with the
scopes it asked for among those it is allowed.
"""

import base64
import binascii
import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from tracker_auth.deps import ContextDep
from tracker_auth.tokens import service_token
from tracker_contracts.internal import ServiceTokenResponse
from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.errors import APIError

router = APIRouter(prefix="/internal", tags=["internal"])


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise APIError(401, "Malformed client credentials") from error
    return client_id, secret


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant_type: str = Field(max_length=50)
    scope: str | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, max_length=100)
    client_secret: str | None = Field(default=None, max_length=500)


@router.post(
    "/token",
    summary="A service token (client credentials grant)",
    openapi_extra=json_or_form_openapi(TokenRequest),
)
async def issue_service_token(
    request: Request,
    ctx: ContextDep,
    form: Annotated[TokenRequest, Depends(json_or_form(TokenRequest))],
) -> ServiceTokenResponse:
    if form.grant_type != "client_credentials":
        raise APIError(400, "Only the client_credentials grant is supported")
    credentials = _basic_credentials(request) or (form.client_id or "", form.client_secret or "")
    scope = form.scope
    client = ctx.settings.service_clients.get(credentials[0])
    # Compared even for unknown clients, so that timing does not tell which ids exist.
    expected = client.secret.get_secret_value() if client else "no client has this secret"
    matches = hmac.compare_digest(credentials[1].encode(), expected.encode())
    if client is None or not matches:
        raise APIError(401, "Unknown client or wrong secret", headers={"WWW-Authenticate": "Basic"})
    requested = scope.split() if scope else client.scopes
    if not requested or not set(requested) <= set(client.scopes):
        raise APIError(403, "This client may not ask for that scope")
    now = datetime.now(UTC)
    token, expires_at = service_token(
        ctx.signing_key, ctx.settings, client_id=credentials[0], scopes=requested, now=now
    )
    return ServiceTokenResponse(
        access_token=token,
        expires_in=int((expires_at - now).total_seconds()),
        scope=" ".join(requested),
    )
