"""Logging out ends the session here too: auth publishes session.revoked, the service's own
subscriber stores it, and every request checks it. Through the real RabbitMQ test vhost."""

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import make_url

from devsupport.accounts import Account, bearer, log_in
from tests.support.database import execute, fetch_all
from tests.support.forged_tokens import claims_of
from tests.support.metrics import sample
from tests.support.tcp_proxy import TcpProxy
from tracker_contracts import Envelope, SessionRevoked, UserRegistered
from tracker_contracts.messaging import EVENTS_EXCHANGE, TASKS_EVENTS
from tracker_tasks.main import create_app

from ..conftest import TEST_DATABASE_URL, jwks_client, make_settings
from ..support import BASE_URL


async def wait_until_refused(client: httpx.AsyncClient, token: str, timeout: float = 5.0) -> float:
    """Poll the list with ``token`` until it gets 401; the seconds it took."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            response = await client.get("/api/tasks", headers=bearer(token))
            if response.status_code == 401:
                return time.monotonic() - started
            assert response.status_code == 200
            await asyncio.sleep(0.02)


async def wait_for_revoked(app: FastAPI, session_id: uuid.UUID, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await fetch_all(
            app, "SELECT 1 FROM revoked_sessions WHERE session_id = :id", id=session_id
        ):
            await asyncio.sleep(0.02)


async def publish(
    body: bytes,
    *,
    message_id: str,
    routing_key: str = "session.revoked",
    headers: aio_pika.abc.HeadersType | None = None,
) -> None:
    """Put a message on tracker.events as any producer would (persistent, confirmed)."""
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=headers,
            ),
            routing_key=routing_key,
            mandatory=True,
        )


def revoked_event(session_id: uuid.UUID, expires_in: timedelta = timedelta(minutes=15)) -> bytes:
    data = SessionRevoked(
        session_id=session_id, user_id=uuid.uuid4(), expires_at=datetime.now(UTC) + expires_in
    )
    return Envelope.wrap(data).model_dump_json().encode()


async def dead_lettered(
    message_id: str, timeout: float = 5.0
) -> aio_pika.abc.AbstractIncomingMessage:
    """Wait for the message with ``message_id`` in the dead-letter queue of tasks.sessions
    (other messages found there, left by earlier runs, are removed)."""
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection, asyncio.timeout(timeout):
        channel = await connection.channel()
        queue = await channel.get_queue(TASKS_EVENTS.dead_letter_queue)
        while True:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            elif message.message_id == message_id:
                return message


async def test_logging_out_ends_the_session_here_within_moments(
    client: httpx.AsyncClient, auth: httpx.AsyncClient, alice: Account
) -> None:
    """Auth's relay publishes session.revoked to the broker; this service's subscriber
    stores it; the old token is refused (the pinned goal is within a second)."""
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200

    logout = await auth.delete("/api/session", headers=alice.headers)
    assert logout.status_code == 204
    took = await wait_until_refused(client, alice.access_token)

    assert took < 5
    refused = await client.get("/api/tasks", headers=alice.headers)
    assert refused.json()["message"] == "This session has ended; log in again"
    # Only that session ended: a new login works.
    again = await log_in(auth, alice.email)
    assert (await client.get("/api/tasks", headers=again.headers)).status_code == 200


async def test_a_redelivered_revocation_changes_nothing(app: FastAPI) -> None:
    session_id = uuid.uuid4()
    body = revoked_event(session_id)

    await publish(body, message_id="first")
    await publish(body, message_id="again")
    await wait_for_revoked(app, session_id)
    await asyncio.sleep(0.2)

    rows = await fetch_all(
        app, "SELECT session_id FROM revoked_sessions WHERE session_id = :id", id=session_id
    )
    assert len(rows) == 1


MALFORMED = {
    "not JSON": b"\x00 definitely not json",
    "not an envelope": b'{"session_id": "x"}',
    "invalid payload": json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "session.revoked",
            "occurred_at": "2026-01-01T00:00:00Z",
            "data": {"session_id": "not-a-uuid", "user_id": str(uuid.uuid4())},
        }
    ).encode(),
    "unknown event type": json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "session.hijacked",
            "occurred_at": "2026-01-01T00:00:00Z",
            "data": {},
        }
    ).encode(),
    "another event on this key": Envelope.wrap(
        UserRegistered(user_id=uuid.uuid4(), email="x@example.com", timezone="UTC")
    )
    .model_dump_json()
    .encode(),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_event_is_dead_lettered_and_the_subscriber_carries_on(
    app: FastAPI, body: bytes
) -> None:
    message_id = f"malformed-{uuid.uuid4()}"
    session_id = uuid.uuid4()

    await publish(body, message_id=message_id)
    rejected = await dead_lettered(message_id)
    await publish(revoked_event(session_id), message_id=f"valid-{uuid.uuid4()}")
    await wait_for_revoked(app, session_id)

    assert rejected.body == body
    deaths = rejected.headers["x-death"]
    assert isinstance(deaths, list)
    [death] = deaths
    assert isinstance(death, dict)
    assert death["queue"] == TASKS_EVENTS.name
    assert death["reason"] == "rejected"
    assert (await app.state.session_events.readiness())["queue"] == TASKS_EVENTS.name


async def test_an_event_of_another_version_is_dead_lettered(app: FastAPI) -> None:
    """The envelope may validate as version 1 and still be another version's: the header
    says which, and a consumer of version 1 must not guess."""
    message_id = f"version-{uuid.uuid4()}"
    refused, accepted = uuid.uuid4(), uuid.uuid4()

    await publish(
        revoked_event(refused),
        message_id=message_id,
        headers={"event_version": SessionRevoked.VERSION + 1},
    )
    rejected = await dead_lettered(message_id)
    await publish(revoked_event(accepted), message_id=f"valid-{uuid.uuid4()}")
    await wait_for_revoked(app, accepted)

    deaths = rejected.headers["x-death"]
    assert isinstance(deaths, list)
    [death] = deaths
    assert isinstance(death, dict)
    assert death["reason"] == "rejected"
    assert not await fetch_all(
        app, "SELECT 1 FROM revoked_sessions WHERE session_id = :id", id=refused
    )


async def test_sessions_are_forgotten_once_their_tokens_are_long_expired(app: FastAPI) -> None:
    now = datetime.now(UTC)
    rows = {
        "long expired": now - timedelta(hours=1),
        "expired within the grace period": now - timedelta(minutes=1),
        "live": now + timedelta(minutes=10),
    }
    ids = {name: uuid.uuid4() for name in rows}
    for name, expires_at in rows.items():
        await execute(
            app,
            "INSERT INTO revoked_sessions (session_id, expires_at) VALUES (:id, :at)",
            id=ids[name],
            at=expires_at,
        )

    deleted = await app.state.expired_revocations.delete_expired()

    assert deleted >= 1
    kept = {row["session_id"] for row in await fetch_all(app, "SELECT * FROM revoked_sessions")}
    assert ids["long expired"] not in kept
    assert {ids["expired within the grace period"], ids["live"]} <= kept


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5672)
    yield proxy
    await proxy.cut()


@pytest.fixture
async def app_without_broker(
    app: FastAPI, auth_app: FastAPI, proxy: TcpProxy
) -> AsyncIterator[FastAPI]:
    """A second replica whose only way to RabbitMQ is the proxy, which is down at its start.
    The shared app's subscriber and relay are paused meanwhile: as another replica, they
    would take this one's events and publish its outbox rows."""
    url = proxy.through(os.environ["RABBITMQ_URL"])
    await app.state.session_events.stop()
    await app.state.outbox.stop()
    try:
        async with jwks_client(auth_app) as keys_client:
            application = create_app(make_settings(rabbitmq_url=url), jwks_client=keys_client)
            async with LifespanManager(application):
                yield application
    finally:
        await app.state.outbox.start()
        await app.state.session_events.start()


async def test_the_service_serves_without_the_broker_and_subscribes_once_it_is_back(
    app_without_broker: FastAPI, proxy: TcpProxy, auth: httpx.AsyncClient, alice: Account
) -> None:
    transport = httpx.ASGITransport(app=app_without_broker)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        created = await client.post("/api/tasks", json={"title": "Offline"}, headers=alice.headers)
        done = await client.patch(
            f"/api/tasks/{created.json()['id']}", json={"status": "done"}, headers=alice.headers
        )
        unready_broker = await client.get("/readyz")

        assert created.status_code == 201
        assert done.status_code == 200
        assert unready_broker.status_code == 200  # the database is what readiness requires
        checks = unready_broker.json()["checks"]
        assert checks["session_events"]["status"] == "down"
        assert checks["outbox"]["broker"] == "down"
        assert checks["outbox"]["pending"] == 3  # task.created, task.updated, task.completed

        await proxy.start()
        async with asyncio.timeout(10):
            while (await client.get("/readyz")).json()["checks"]["session_events"][
                "status"
            ] != "up":
                await asyncio.sleep(0.1)

        assert (await auth.delete("/api/session", headers=alice.headers)).status_code == 204
        await wait_until_refused(client, alice.access_token)


OUTAGE_SECONDS = 8.0
"""Longer than the old "requeue after a one-second pause" took to spend every one of the
queue's DELIVERY_LIMIT deliveries and dead-letter the revocation."""


@pytest.fixture
async def database_proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", make_url(TEST_DATABASE_URL).port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def app_behind_database_proxy(
    app: FastAPI, auth_app: FastAPI, database_proxy: TcpProxy
) -> AsyncIterator[FastAPI]:
    """A second replica whose only way to its database is the proxy. The shared app's
    subscriber and relay are paused meanwhile, so that this replica takes every revocation."""
    url = (
        make_url(TEST_DATABASE_URL)
        .set(host="127.0.0.1", port=database_proxy.port)
        .render_as_string(hide_password=False)
    )
    await app.state.session_events.stop()
    await app.state.outbox.stop()
    try:
        async with jwks_client(auth_app) as keys_client:
            application = create_app(make_settings(database_url=url), jwks_client=keys_client)
            async with LifespanManager(application):
                yield application
    finally:
        await app.state.outbox.start()
        await app.state.session_events.start()


async def dead_lettered_ids() -> set[str | None]:
    """The message ids now in the dead-letter queue of tasks.sessions (taken out of it)."""
    connection = await aio_pika.connect(os.environ["RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(TASKS_EVENTS.dead_letter_queue)
        found = set()
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.add(message.message_id)
        return found


async def test_a_revocation_outlives_a_database_outage(
    app_behind_database_proxy: FastAPI, database_proxy: TcpProxy, alice: Account
) -> None:
    """A consumer whose database is away holds its messages instead of spending their
    deliveries: once the database is back, the session is revoked, nothing dead-lettered."""
    transport = httpx.ASGITransport(app=app_behind_database_proxy)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
        await dead_lettered_ids()  # what earlier runs left there
        message_id = f"outage-{uuid.uuid4()}"

        await database_proxy.cut()
        await publish(
            revoked_event(uuid.UUID(claims_of(alice.access_token)["sid"])),
            message_id=message_id,
        )
        await asyncio.sleep(OUTAGE_SECONDS)
        held = await app_behind_database_proxy.state.session_events.readiness()
        await database_proxy.start()

        await wait_until_refused(client, alice.access_token, timeout=10)
        assert held["held_for_database"] == 1
        assert message_id not in await dead_lettered_ids()


async def counted_within(name: str, value: float, labels: dict[str, str]) -> None:
    """Wait until the sample reaches ``value`` (a message is settled, then counted, a
    moment after its effect is visible)."""
    async with asyncio.timeout(5):
        while sample(name, **labels) < value:
            await asyncio.sleep(0.02)


async def test_the_consumer_counts_what_it_consumes_and_dead_letters(app: FastAPI) -> None:
    labels = {"queue": TASKS_EVENTS.name, "event_type": "session.revoked"}
    consumed = sample("tracker_events_consumed_total", **labels)
    rejected = sample("tracker_events_dead_lettered_total", **labels)
    session_id = uuid.uuid4()
    message_id = f"malformed-{uuid.uuid4()}"

    await publish(revoked_event(session_id), message_id=f"valid-{uuid.uuid4()}")
    await wait_for_revoked(app, session_id)
    await counted_within("tracker_events_consumed_total", consumed + 1, labels)
    await publish(MALFORMED["invalid payload"], message_id=message_id)
    await dead_lettered(message_id)
    await counted_within("tracker_events_dead_lettered_total", rejected + 1, labels)

    assert sample("tracker_events_consumed_total", **labels) == consumed + 1
    assert sample("tracker_events_dead_lettered_total", **labels) == rejected + 1
    assert sample("tracker_events_failed_total", **labels) == 0
