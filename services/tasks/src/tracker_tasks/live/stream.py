"""What one stream sends, and the response that sends it.

The wire format (Server-Sent Events)::

    retry: 2000
    id: 41
    event: ready
    data: {}

    id: 42
    event: task.updated
    data: {"id": "...", "title": "...", ...}

    : keep-alive

    id: 57
    event: resync
    data: {"reason": "expired"}

Every change carries its position in the person's feed as its ``id``, so a client that
reconnects (``Last-Event-ID``, or ``?last_event_id=`` for a new ``EventSource``) gets what
it missed, from any replica. The first event, ``ready``, tells the client where the stream
opened, so that even a stream that saw no change resumes from there (and a client that
loads the list after it misses nothing in between).
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tracker_runtime.database import Database
from tracker_tasks.live import repository as feed
from tracker_tasks.live.hub import Stream, StreamHub

logger = logging.getLogger("tracker.tasks.live")

MEDIA_TYPE = "text/event-stream"
RETRY_MILLISECONDS = 2000
"""How long a browser waits before it reconnects by itself."""
SEND_TIMEOUT_SECONDS = 30.0
"""A client that takes no bytes for this long (its buffers full) is disconnected: its
stream would otherwise hold its socket and buffers forever."""
KEEPALIVE = b": keep-alive\n\n"
READY = "ready"
RESYNC = "resync"


def frame(event: str, position: int, data: str) -> bytes:
    return f"id: {position}\nevent: {event}\ndata: {data}\n\n".encode()


def resync_frame(position: int, reason: str) -> bytes:
    return frame(RESYNC, position, json.dumps({"reason": reason}))


@dataclass(slots=True)
class Reader:
    """Reads a person's changes after the stream's position, as frames to send."""

    database: Database
    hub: StreamHub
    owner_id: uuid.UUID
    limit: int
    position: int

    async def next_frames(self) -> list[bytes]:
        """Every change after the position, or ``event: resync`` (moving the position to
        the head) when some were forgotten already or there are more than the limit."""
        async with self.hub.reads, self.database.sessions() as db:
            changes = await feed.changes_after(
                db, self.owner_id, self.position, limit=self.limit + 1
            )
            contiguous = bool(changes) and changes[0].position == self.position + 1
            if contiguous and len(changes) <= self.limit:
                self.position = changes[-1].position
                return [frame(c.event_type, c.position, c.data) for c in changes]
            head = await feed.head_of(db, self.owner_id)
        if not changes and head == self.position:
            return []  # woken for a change already sent
        return [self.resync(head, "behind" if contiguous else "expired")]

    def resync(self, head: int, reason: str) -> bytes:
        """``event: resync`` ("reload the list"), moving the position to ``head``."""
        logger.info(
            "stream resynchronised", extra={"reason": reason, "from": self.position, "to": head}
        )
        self.position = head
        return resync_frame(head, reason)


async def frames(stream: Stream, reader: Reader, *, resync: str | None) -> AsyncGenerator[bytes]:
    """What the stream sends until it is closed: its position, what the client missed (or
    ``resync`` first, when its ``Last-Event-ID`` means nothing here), then each change as
    it comes and a comment line whenever the keep-alive loop asks for one."""
    if resync is not None:
        yield f"retry: {RETRY_MILLISECONDS}\n".encode() + reader.resync(reader.position, resync)
    else:
        yield f"retry: {RETRY_MILLISECONDS}\n".encode() + frame(READY, reader.position, "{}")
    while True:
        await stream.woken.wait()
        stream.woken.clear()
        if stream.closed:
            return
        sent = False
        if stream.changes_due:
            stream.changes_due = False
            for chunk in await reader.next_frames():
                sent = True
                yield chunk
        if stream.keepalive_due:
            stream.keepalive_due = False
            if not sent:
                yield KEEPALIVE


class EventStreamResponse(StreamingResponse):
    """Sends ``frames`` until they end (the stream was closed) or the client leaves; then
    ``on_close``. Unlike Starlette's streaming response, it gives up on a client that stops
    reading (:data:`SEND_TIMEOUT_SECONDS`)."""

    media_type = MEDIA_TYPE

    def __init__(
        self, stream: Stream, body: AsyncGenerator[bytes], on_close: Callable[[Stream], None]
    ) -> None:
        super().__init__(
            body,
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._stream = stream
        self._frames = body
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = self._stream

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            stream.close()

        watcher = asyncio.create_task(watch_disconnect(), name="live-disconnect")
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
            async for chunk in self._frames:
                async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (TimeoutError, OSError):
            pass  # the client is gone, or stopped reading: the server drops the connection
        except Exception as error:  # the database away, say: the client reconnects later
            logger.warning("stream ended: %s: %s", type(error).__name__, error)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._on_close(stream)
            await self._frames.aclose()
