from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from tracker_runtime.tokens import InvalidToken, token_from
from tracker_tasks.deps import ContextDep
from tracker_tasks.live import repository as feed
from tracker_tasks.live.stream import MEDIA_TYPE, EventStreamResponse, Reader, frames

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

STREAM_DESCRIPTION = """Server-Sent Events: first `event: ready` (its `id:` is where the
stream starts), then each change of the caller's tasks, from any tab,
device, replica or API client, as `event: task.created` or `task.updated` (data: the task
as `GET /api/tasks/{id}` answers with it) or `task.deleted` (data: `{"id": ...}`), each with
an `id:` line, its position in the caller's changes. A client that reconnects with
`Last-Event-ID` (or `?last_event_id=`, for a new `EventSource`) first gets what it missed,
or `event: resync` ("reload the list") when that is older than the service keeps or too
much. A comment line (`: keep-alive`) comes at least every 20 seconds. The stream ends when
the session ends (logout, password change, account deletion) and when the access token
expires (reconnect with a renewed one)."""


def position_of(value: str | None) -> int | None:
    """The position a ``Last-Event-ID`` names; ``-1`` for one that names none of ours."""
    if value is None or value == "":
        return None
    return int(value) if value.isdigit() and len(value) <= 18 else -1


@router.get(
    "/events",
    summary="The live stream of the caller's task changes",
    description=STREAM_DESCRIPTION,
    response_class=EventStreamResponse,
    status_code=200,
    responses={
        200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}},
        401: {"description": "Not logged in, expired or logged out"},
    },
)
async def task_events(
    *,
    request: Request,
    ctx: ContextDep,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=100)
    ] = None,
    last_event_id: Annotated[
        str | None,
        Query(max_length=100, description="The last `id:` received, as Last-Event-ID"),
    ] = None,
) -> EventStreamResponse:
    # Authenticated as every other route (tracker_tasks.deps.current_user), but without the
    # request's session: that one lasts as long as the response, which here is endless.
    token = token_from(request)
    if token is None:
        raise InvalidToken()
    claims = await ctx.verifier.access_claims(token)
    hub = ctx.streams
    settings = ctx.settings
    # Registered before the session is checked: a logout that lands between the check and
    # the registration would otherwise leave this stream open.
    stream = hub.open(claims.user_id, claims.session_id, claims.expires_at)
    try:
        async with ctx.database.sessions() as db:
            if await ctx.revocations.is_revoked(claims.session_id, db):
                raise InvalidToken("This session has ended; log in again")
            head = await feed.head_of(db, claims.user_id)
    except BaseException:
        hub.discard(stream)
        raise
    after = position_of(last_event_id_header or last_event_id)
    reader = Reader(
        database=ctx.database,
        hub=hub,
        owner_id=claims.user_id,
        limit=settings.stream_replay_limit,
        position=head if after is None or not 0 <= after <= head else after,
    )
    resync = "unknown" if after is not None and not 0 <= after <= head else None
    if after is not None and reader.position < head:
        stream.changed()  # send what the client missed
    return EventStreamResponse(stream, frames(stream, reader, resync=resync), hub.discard)
