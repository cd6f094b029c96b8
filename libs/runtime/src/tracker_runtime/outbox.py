"""The transactional outbox: events are stored in the same transaction as the change.

A service defines its outbox table with :func:`define_outbox_table` on its own metadata and
adds events with :func:`add_event` inside the transaction that makes the change. The relay
that publishes the rows runs in the service process (see ``tracker_runtime.relay``).
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts import Envelope, EventData
from tracker_runtime.logging import request_id_var

OUTBOX_TABLE = "outbox"


def define_outbox_table(metadata: MetaData) -> Table:
    return Table(
        OUTBOX_TABLE,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


async def add_event(session: AsyncSession, table: Table, data: EventData) -> Envelope[EventData]:
    """Store ``data`` as a new event in the session's transaction and return its envelope."""
    envelope = Envelope.wrap(data)
    headers: dict[str, Any] = {"event_version": data.VERSION}
    if request_id := request_id_var.get():
        headers["x-request-id"] = request_id
    await session.execute(
        insert(table).values(
            event_id=envelope.event_id,
            event_type=envelope.event_type.value,
            payload=envelope.model_dump(mode="json"),
            headers=headers,
        )
    )
    return envelope
