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
NOTIFY_CHANNEL = "outbox"


def notify_trigger_ddl(table: str = OUTBOX_TABLE) -> tuple[str, ...]:
    """Statements that make every insert into the outbox wake the relay (NOTIFY is
    delivered when the inserting transaction commits). For a service's migration."""
    return (
        f"""CREATE OR REPLACE FUNCTION {table}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$""",
        f"""CREATE TRIGGER {table}_notify AFTER INSERT ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_notify()""",
    )


def drop_notify_trigger_ddl(table: str = OUTBOX_TABLE) -> tuple[str, ...]:
    return (
        f"DROP TRIGGER IF EXISTS {table}_notify ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_notify()",
    )


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
    # One statement for every event, its values as parameters: compiled and cached once.
    await session.execute(
        insert(table),
        {
            "event_id": envelope.event_id,
            "event_type": envelope.event_type.value,
            "payload": envelope.model_dump(mode="json"),
            "headers": headers,
        },
    )
    return envelope
