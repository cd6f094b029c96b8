from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from tracker_auth.deps import ContextDep, CurrentPrincipal
from tracker_auth.sessions.cookies import set_session_cookies
from tracker_auth.tokens import IssuedTokens
from tracker_auth.users import service
from tracker_auth.users.models import User
from tracker_auth.users.schemas import Preferences, Registration, SignedIn, UserOut
from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.web import SessionDep

router = APIRouter(prefix="/api/user", tags=["users"])


def signed_in(user: User, tokens: IssuedTokens) -> SignedIn:
    expires_in = int((tokens.access_expires_at - datetime.now(UTC)).total_seconds())
    return SignedIn(
        **UserOut.model_validate(user, from_attributes=True).model_dump(),
        access_token=tokens.access_token,
        expires_in=max(0, expires_in),
    )


@router.post(
    "",
    summary="Register and log in",
    openapi_extra=json_or_form_openapi(Registration),
    responses={409: {"description": "Email taken"}, 422: {"description": "Invalid input"}},
)
async def register(
    registration: Annotated[Registration, Depends(json_or_form(Registration))],
    response: Response,
    db: SessionDep,
    ctx: ContextDep,
) -> SignedIn:
    user, tokens = await service.register(db, ctx, registration)
    set_session_cookies(response, tokens, ctx.settings)
    return signed_in(user, tokens)


@router.get("", summary="The current user", responses={401: {"description": "Not logged in"}})
async def me(principal: CurrentPrincipal) -> UserOut:
    return UserOut.model_validate(principal.user, from_attributes=True)


@router.patch(
    "",
    summary="Change the mail preferences: timezone and whether to get the digest",
    openapi_extra=json_or_form_openapi(Preferences),
    responses={401: {"description": "Not logged in"}, 422: {"description": "Invalid input"}},
)
async def update_preferences(
    preferences: Annotated[Preferences, Depends(json_or_form(Preferences))],
    principal: CurrentPrincipal,
    db: SessionDep,
) -> UserOut:
    user = await service.update_preferences(db, principal.user.id, preferences)
    return UserOut.model_validate(user, from_attributes=True)
