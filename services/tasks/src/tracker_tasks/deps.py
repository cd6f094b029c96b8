"""``Annotated`` shortcuts so routes declare what they need in one word."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tracker_contracts.internal import SUMMARIES_SCOPE
from tracker_runtime.service import context_of
from tracker_runtime.tokens import InvalidToken, token_from
from tracker_runtime.web import SessionDep
from tracker_tasks.context import TasksContext

ContextDep = Annotated[TasksContext, Depends(context_of)]


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: uuid.UUID
    session_id: uuid.UUID


async def current_user(request: Request, db: SessionDep, ctx: ContextDep) -> CurrentUser:
    """The caller: a valid access token (verified here with auth's public keys, no call to
    auth) whose session has not been revoked (``tracker_tasks.revocations.known``)."""
    token = token_from(request)
    if token is None:
        raise InvalidToken()
    claims = await ctx.verifier.access_claims(token)
    if await ctx.revocations.is_revoked(claims.session_id, db):
        raise InvalidToken("This session has ended; log in again")
    return CurrentUser(id=claims.user_id, session_id=claims.session_id)


UserDep = Annotated[CurrentUser, Depends(current_user)]


async def summaries_caller(request: Request, ctx: ContextDep) -> str:
    """The service behind a service token that carries the summaries scope. Only the
    Authorization header counts: a browser's cookie must never open an internal API, and a
    user's access token fails the pinned token type (401) before any scope is looked at."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise InvalidToken("Send a service token as 'Authorization: Bearer <token>'")
    return await ctx.verifier.service_subject(credentials.strip(), scope=SUMMARIES_SCOPE)


SummariesCaller = Annotated[str, Depends(summaries_caller)]
