from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from tracker_auth.deps import ContextDep, CurrentPrincipal, client_ip
from tracker_auth.sessions.cookies import clear_session_cookies, set_session_cookies
from tracker_auth.tokens import IssuedTokens
from tracker_auth.users import service
from tracker_auth.users.models import User
from tracker_auth.users.schemas import (
    AccountDeletion,
    EmailVerification,
    PasswordChange,
    PasswordResetConfirmation,
    PasswordResetRequest,
    Preferences,
    Registration,
    SignedIn,
    UserOut,
)
from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.web import SessionDep

router = APIRouter(prefix="/api/user", tags=["users"])
password_reset_router = APIRouter(prefix="/api/password-reset", tags=["users"])

Responses = dict[int | str, dict[str, Any]]
NOT_LOGGED_IN: Responses = {401: {"description": "Not logged in"}}
INVALID_INPUT: Responses = {422: {"description": "Invalid input"}}
RATE_LIMITED: Responses = {429: {"description": "Too many; see Retry-After"}}


def signed_in(user: User, tokens: IssuedTokens) -> SignedIn:
    expires_in = int((tokens.access_expires_at - datetime.now(UTC)).total_seconds())
    return SignedIn(
        **UserOut.model_validate(user, from_attributes=True).model_dump(),
        access_token=tokens.access_token,
        expires_in=max(0, expires_in),
    )


@router.post(
    "",
    summary="Register and log in; mails a link that confirms the address",
    openapi_extra=json_or_form_openapi(Registration),
    responses={409: {"description": "Email taken"}, **INVALID_INPUT, **RATE_LIMITED},
)
async def register(
    registration: Annotated[Registration, Depends(json_or_form(Registration))],
    request: Request,
    response: Response,
    db: SessionDep,
    ctx: ContextDep,
) -> SignedIn:
    user, tokens = await service.register(db, ctx, registration, client_ip(request))
    set_session_cookies(response, tokens, ctx.settings)
    return signed_in(user, tokens)


@router.get("", summary="The current user", responses=NOT_LOGGED_IN)
async def me(principal: CurrentPrincipal) -> UserOut:
    return UserOut.model_validate(principal.user, from_attributes=True)


@router.patch(
    "",
    summary="Change the preferences: timezone, digest and reminder mails",
    openapi_extra=json_or_form_openapi(Preferences),
    responses={**NOT_LOGGED_IN, **INVALID_INPUT},
)
async def update_preferences(
    preferences: Annotated[Preferences, Depends(json_or_form(Preferences))],
    principal: CurrentPrincipal,
    db: SessionDep,
) -> UserOut:
    user = await service.update_preferences(db, principal.user.id, preferences)
    return UserOut.model_validate(user, from_attributes=True)


@router.delete(
    "",
    summary="Delete the account and everything of it; every session ends",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=json_or_form_openapi(AccountDeletion),
    responses={
        **NOT_LOGGED_IN,
        403: {"description": "Wrong password"},
        **INVALID_INPUT,
        **RATE_LIMITED,
    },
)
async def delete_account(
    deletion: Annotated[AccountDeletion, Depends(json_or_form(AccountDeletion))],
    request: Request,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
) -> Response:
    await service.delete_account(db, ctx, principal.user, deletion.password, client_ip(request))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, ctx.settings)
    return response


@router.put(
    "/password",
    summary="Change the password; every other session ends",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=json_or_form_openapi(PasswordChange),
    responses={
        **NOT_LOGGED_IN,
        403: {"description": "Wrong current password"},
        **INVALID_INPUT,
        **RATE_LIMITED,
    },
)
async def change_password(
    change: Annotated[PasswordChange, Depends(json_or_form(PasswordChange))],
    request: Request,
    principal: CurrentPrincipal,
    db: SessionDep,
    ctx: ContextDep,
) -> Response:
    await service.change_password(
        db,
        ctx,
        principal.user,
        principal.session_id,
        current_password=change.current_password,
        new_password=change.new_password,
        client_ip=client_ip(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/email-verification",
    summary="Confirm the address with the token of the mailed link",
    openapi_extra=json_or_form_openapi(EmailVerification),
    responses={400: {"description": "Invalid, used or expired token"}, **INVALID_INPUT},
)
async def verify_email(
    verification: Annotated[EmailVerification, Depends(json_or_form(EmailVerification))],
    db: SessionDep,
) -> UserOut:
    user = await service.verify_email(db, verification.token)
    return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/verification-mail",
    summary="Mail a new link that confirms the address",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses={**NOT_LOGGED_IN, 409: {"description": "Already confirmed"}, **RATE_LIMITED},
)
async def send_verification_mail(
    request: Request, principal: CurrentPrincipal, db: SessionDep, ctx: ContextDep
) -> Response:
    await service.send_verification(db, ctx, principal.user, client_ip(request))
    return Response(status_code=status.HTTP_202_ACCEPTED)


@password_reset_router.post(
    "",
    summary="Mail a password-reset link, if the address has an account",
    description="Answers 202 whether or not the address has an account, in the same time.",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    openapi_extra=json_or_form_openapi(PasswordResetRequest),
    responses={**INVALID_INPUT, **RATE_LIMITED},
)
async def request_password_reset(
    reset: Annotated[PasswordResetRequest, Depends(json_or_form(PasswordResetRequest))],
    request: Request,
    db: SessionDep,
    ctx: ContextDep,
) -> Response:
    await service.request_password_reset(db, ctx, reset.email, client_ip(request))
    return Response(status_code=status.HTTP_202_ACCEPTED)


@password_reset_router.post(
    "/confirm",
    summary="Set a new password with the token of the mailed link; every session ends",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=json_or_form_openapi(PasswordResetConfirmation),
    responses={400: {"description": "Invalid, used or expired token"}, **INVALID_INPUT},
)
async def confirm_password_reset(
    confirmation: Annotated[
        PasswordResetConfirmation, Depends(json_or_form(PasswordResetConfirmation))
    ],
    db: SessionDep,
    ctx: ContextDep,
) -> Response:
    await service.reset_password(db, ctx, confirmation.token, confirmation.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
