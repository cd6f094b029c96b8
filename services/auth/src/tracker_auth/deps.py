"""``Annotated`` shortcuts so routes declare what they need in one word."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from tracker_auth.context import AuthContext
from tracker_auth.users import repository as users
from tracker_auth.users.models import User
from tracker_runtime.service import context_of
from tracker_runtime.tokens import InvalidToken, token_from

ContextDep = Annotated[AuthContext, Depends(context_of)]


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session_id: uuid.UUID


def client_ip(request: Request) -> str | None:
    """The client's address: uvicorn has already taken it from ``X-Forwarded-For`` when the
    request came through a trusted proxy (``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else None


async def optional_session_id(request: Request, ctx: ContextDep) -> uuid.UUID | None:
    """The session of a valid access token, if the request carries one."""
    token = token_from(request)
    if token is None:
        return None
    try:
        claims = await ctx.verifier.access_claims(token)
    except InvalidToken:
        return None
    return claims.session_id


async def current_principal(request: Request, ctx: ContextDep) -> Principal:
    """The logged-in user: a valid access token whose session is still live. The account
    is read on a connection of its own, given back at once: a request that also checks a
    password (which takes connections of its own to count the attempt) holds none while
    it waits for another, and a locked copy is what a change works on (``_locked``)."""
    token = token_from(request)
    if token is None:
        raise InvalidToken()
    claims = await ctx.verifier.access_claims(token)
    async with ctx.database.reads() as lookup:
        user = await users.by_live_session(lookup, claims.session_id, datetime.now(UTC))
    if user is None or user.id != claims.user_id:
        raise InvalidToken("This session has ended; log in again")
    return Principal(user=user, session_id=claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalSessionId = Annotated[uuid.UUID | None, Depends(optional_session_id)]
