from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from tracker_auth.deps import ContextDep, OptionalSessionId, client_ip
from tracker_auth.sessions import service
from tracker_auth.sessions.cookies import clear_session_cookies, set_session_cookies
from tracker_auth.sessions.schemas import Credentials
from tracker_auth.users.router import signed_in
from tracker_auth.users.schemas import SignedIn
from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.errors import APIError
from tracker_runtime.tokens import REFRESH_COOKIE
from tracker_runtime.web import SessionDep

router = APIRouter(prefix="/api/session", tags=["sessions"])


@router.post(
    "",
    summary="Log in",
    openapi_extra=json_or_form_openapi(Credentials),
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Throttled"}},
)
async def log_in(
    credentials: Annotated[Credentials, Depends(json_or_form(Credentials))],
    request: Request,
    response: Response,
    db: SessionDep,
    ctx: ContextDep,
) -> SignedIn:
    user, tokens = await service.log_in(
        db,
        ctx,
        email=credentials.email,
        password=credentials.password,
        client_ip=client_ip(request),
    )
    set_session_cookies(response, tokens, ctx.settings)
    return signed_in(user, tokens)


@router.post(
    "/refresh",
    summary="Rotate the refresh token",
    responses={401: {"description": "Missing, expired, revoked or reused refresh token"}},
)
async def refresh(
    request: Request, response: Response, db: SessionDep, ctx: ContextDep
) -> SignedIn:
    presented = request.cookies.get(REFRESH_COOKIE)
    if not presented:
        raise APIError(401, "No refresh token; log in again")
    user, tokens = await service.refresh(db, ctx, presented)
    set_session_cookies(response, tokens, ctx.settings)
    return signed_in(user, tokens)


@router.delete("", summary="Log out", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(
    request: Request, db: SessionDep, ctx: ContextDep, session_id: OptionalSessionId
) -> Response:
    await service.log_out(
        db, ctx, session_id=session_id, refresh_token=request.cookies.get(REFRESH_COOKIE)
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, ctx.settings)
    return response


jwks_router = APIRouter(tags=["keys"])


@jwks_router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(ctx: ContextDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return ctx.keys.jwks()
