"""The live stream, on two replicas of the service (two apps, each served over HTTP with
its own queue on the real RabbitMQ test vhost), on the real PostgreSQL test database."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from devsupport.accounts import Account, bearer
from tests.support.database import execute, fetch_all
from tracker_tasks.main import create_app

from ..conftest import jwks_client, make_settings
from .support import Served, serve, stream

KEEPALIVE = timedelta(seconds=1)


@pytest.fixture(scope="module")
async def replicas(app: FastAPI, auth_app: FastAPI) -> AsyncIterator[tuple[Served, Served]]:
    """Two processes' worth of the service: ``a`` and ``b``."""
    settings = make_settings(stream_keepalive_interval=KEEPALIVE)
    async with (
        jwks_client(auth_app) as keys_a,
        jwks_client(auth_app) as keys_b,
        serve(create_app(settings, jwks_client=keys_a)) as a,
        serve(create_app(settings, jwks_client=keys_b)) as b,
    ):
        for replica in (a, b):
            await subscribed(replica.app)
        yield a, b


async def subscribed(app: FastAPI) -> None:
    async with asyncio.timeout(15):
        while not app.state.live_events.subscribed:
            await asyncio.sleep(0.02)


def http(replica: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=replica.url, timeout=10)


async def test_a_change_through_one_replica_reaches_a_stream_on_another(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    a, b = replicas
    async with stream(b.url, alice.headers) as events, http(a) as client:
        opened = int(await events.position())

        created = await client.post("/api/tasks", json={"title": "Water"}, headers=alice.headers)
        event = await events.next()
        assert (event.event, event.id) == ("task.created", str(opened + 1))
        assert event.data == created.text  # the task exactly as the API answered

        task_id = created.json()["id"]
        updated = await client.patch(
            f"/api/tasks/{task_id}", json={"status": "done"}, headers=alice.headers
        )
        event = await events.next()
        assert (event.event, event.id) == ("task.updated", str(opened + 2))
        assert event.data == updated.text

        assert (await client.delete(f"/api/tasks/{task_id}", headers=alice.headers)).is_success
        event = await events.next()
        assert (event.event, event.id) == ("task.deleted", str(opened + 3))
        assert event.json() == {"id": task_id}


async def test_every_stream_of_a_person_gets_each_change_once(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    a, b = replicas
    async with (
        stream(a.url, alice.headers) as on_a,
        stream(b.url, alice.headers) as also_on_b,
        stream(b.url, alice.headers) as on_b,
        http(b) as client,
    ):
        for events in (on_a, also_on_b, on_b):
            await events.position()
        titles = [f"Task {number}" for number in range(5)]
        for title in titles:
            response = await client.post("/api/tasks", json={"title": title}, headers=alice.headers)
            assert response.status_code == 201
        for events in (on_a, also_on_b, on_b):
            received = [(await events.next()).json()["title"] for _ in titles]
            assert received == titles


async def test_a_person_never_sees_another_persons_changes(
    replicas: tuple[Served, Served], alice: Account, bob: Account
) -> None:
    a, b = replicas
    async with (
        stream(b.url, alice.headers) as alices,
        stream(b.url, bob.headers) as bobs,
        http(a) as client,
    ):
        await alices.position()
        await bobs.position()
        await client.post("/api/tasks", json={"title": "Bob's"}, headers=bob.headers)
        await client.post("/api/tasks", json={"title": "Alice's"}, headers=alice.headers)
        await client.post("/api/tasks", json={"title": "Bob's again"}, headers=bob.headers)
        assert (await alices.next()).json()["title"] == "Alice's"
        assert (await bobs.next()).json()["title"] == "Bob's"
        assert (await bobs.next()).json()["title"] == "Bob's again"
        # Alice's feed is numbered on its own: her first change is her 1.
        assert alices.last_id == "1"


async def test_a_reconnection_with_last_event_id_gets_what_it_missed(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    a, b = replicas
    async with http(a) as client:
        await client.post("/api/tasks", json={"title": "Seen"}, headers=alice.headers)
        async with stream(a.url, alice.headers) as events:
            last = await events.position()
        missed = [
            (await client.post("/api/tasks", json={"title": t}, headers=alice.headers)).text
            for t in ("One", "Two", "Three")
        ]
    # On the other replica, by header and by query (a new EventSource cannot set headers).
    for query, headers in (
        (None, {**alice.headers, "Last-Event-ID": last}),
        ({"last_event_id": last}, alice.headers),
    ):
        async with stream(b.url, headers, query) as events:
            assert await events.position() == last  # where it left off
            replayed = [await events.next() for _ in missed]
        assert [event.data for event in replayed] == missed
        assert [event.id for event in replayed] == [str(int(last) + n) for n in (1, 2, 3)]


async def test_changes_older_than_kept_get_a_resync(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    a, b = replicas
    async with http(a) as client:
        for title in ("Old", "Older"):
            await client.post("/api/tasks", json={"title": title}, headers=alice.headers)
    await execute(a.app, "UPDATE task_changes SET created_at = now() - interval '2 hours'")
    assert await a.app.state.expired_changes.delete_expired() == 2

    async with stream(b.url, {**alice.headers, "Last-Event-ID": "0"}) as events:
        assert await events.position() == "0"
        event = await events.next()
    assert (event.event, event.id, event.json()) == ("resync", "2", {"reason": "expired"})


@pytest.mark.parametrize("last_event_id", ["99", "not-a-number", "-1"])
async def test_an_unknown_last_event_id_gets_a_resync(
    replicas: tuple[Served, Served], alice: Account, last_event_id: str
) -> None:
    _, b = replicas
    async with stream(b.url, {**alice.headers, "Last-Event-ID": last_event_id}) as events:
        event = await events.next()
    assert (event.event, event.id, event.json()) == ("resync", "0", {"reason": "unknown"})


async def test_more_missed_than_the_replay_limit_gets_a_resync(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    a, b = replicas
    limit = a.app.state.context.settings.stream_replay_limit
    owner = uuid.UUID(alice.id)
    await execute(
        a.app,
        "INSERT INTO task_changes (owner_id, position, event_type, data) "
        "SELECT :owner, n, 'task.deleted', '{}' FROM generate_series(1, :count) AS n",
        owner=owner,
        count=limit + 1,
    )
    await execute(
        a.app,
        "INSERT INTO task_change_heads (owner_id, position) VALUES (:owner, :count)",
        owner=owner,
        count=limit + 1,
    )
    async with stream(b.url, {**alice.headers, "Last-Event-ID": "0"}) as events:
        await events.position()
        event = await events.next()
    assert (event.event, event.id, event.json()) == ("resync", str(limit + 1), {"reason": "behind"})
    async with stream(b.url, {**alice.headers, "Last-Event-ID": "1"}) as events:
        await events.position()
        replayed = [await events.next() for _ in range(limit)]
    assert replayed[-1].id == str(limit + 1)


async def test_idle_streams_get_a_comment_line_every_interval(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    _, b = replicas
    async with stream(b.url, alice.headers) as events:
        await events.position()
        with pytest.raises(TimeoutError):
            await events.next(timeout=KEEPALIVE.total_seconds() * 2.5)
    assert events.comments.count("keep-alive") >= 2


async def test_logging_out_closes_the_sessions_streams_on_every_replica_within_a_second(
    replicas: tuple[Served, Served], auth: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    a, b = replicas
    async with (
        stream(a.url, alice.headers) as on_a,
        stream(b.url, alice.headers) as on_b,
        stream(b.url, bob.headers) as bobs,
    ):
        for events in (on_a, on_b, bobs):
            await events.position()
        assert (await auth.delete("/api/session", headers=alice.headers)).status_code == 204
        logged_out = time.monotonic()
        await asyncio.gather(on_a.until_closed(1.0), on_b.until_closed(1.0))
        assert time.monotonic() - logged_out < 1.0
        # Another person's stream stays open.
        async with http(a) as client:
            await client.post("/api/tasks", json={"title": "Still here"}, headers=bob.headers)
        assert (await bobs.next()).json()["title"] == "Still here"
    # A client that leaves frees its stream.
    async with asyncio.timeout(5):
        while len(a.app.state.streams) + len(b.app.state.streams):
            await asyncio.sleep(0.02)


async def test_deleting_the_account_closes_its_streams(
    replicas: tuple[Served, Served], auth: httpx.AsyncClient, alice: Account
) -> None:
    _, b = replicas
    async with stream(b.url, alice.headers) as events:
        await events.position()
        deleted = await auth.request(
            "DELETE", "/api/user", json={"password": alice.password}, headers=alice.headers
        )
        assert deleted.status_code == 204
        await events.until_closed(2.0)


async def test_the_stream_needs_a_live_session(
    replicas: tuple[Served, Served], auth: httpx.AsyncClient, alice: Account
) -> None:
    a, _ = replicas
    async with http(a) as client:
        assert (await client.get("/api/tasks/events")).status_code == 401
        refused = await client.get("/api/tasks/events", headers=bearer("not-a-token"))
        assert refused.status_code == 401
        assert (await auth.delete("/api/session", headers=alice.headers)).status_code == 204
        async with asyncio.timeout(5):
            while (await client.get("/api/tasks", headers=alice.headers)).status_code != 401:
                await asyncio.sleep(0.02)
        ended = await client.get("/api/tasks/events", headers=alice.headers)
    assert ended.status_code == 401
    assert ended.json()["message"] == "This session has ended; log in again"


async def test_a_stream_ends_with_its_access_token(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    """The keep-alive loop ends streams whose token expired; the client reconnects with a
    renewed one and resumes where it was."""
    a, _ = replicas
    async with stream(a.url, alice.headers) as events:
        await events.position()
        [held] = a.app.state.streams.streams()
        held.ends_at = held.ends_at - timedelta(days=1)
        await events.until_closed(KEEPALIVE.total_seconds() * 3)


async def test_the_feed_is_erased_with_the_account(
    replicas: tuple[Served, Served], auth: httpx.AsyncClient, alice: Account
) -> None:
    a, _ = replicas
    async with http(a) as client:
        await client.post("/api/tasks", json={"title": "Mine"}, headers=alice.headers)
    deleted = await auth.request(
        "DELETE", "/api/user", json={"password": alice.password}, headers=alice.headers
    )
    assert deleted.status_code == 204
    query = (
        "SELECT 1 FROM task_changes WHERE owner_id = :id UNION ALL "
        "SELECT 1 FROM task_change_heads WHERE owner_id = :id"
    )
    async with asyncio.timeout(10):
        while await fetch_all(a.app, query, id=uuid.UUID(alice.id)):
            await asyncio.sleep(0.05)


async def test_open_streams_hold_no_database_connection(auth_app: FastAPI, alice: Account) -> None:
    """More streams than the pool has connections, and requests still get one."""
    settings = make_settings(database_pool_size=1)  # two connections with the overflow
    async with (
        jwks_client(auth_app) as keys,
        serve(create_app(settings, jwks_client=keys)) as small,
        contextlib.AsyncExitStack() as streams,
    ):
        for _ in range(6):
            events = await streams.enter_async_context(stream(small.url, alice.headers))
            await events.position()
        async with http(small) as client:
            listed = await client.get("/api/tasks", headers=alice.headers)
        assert listed.status_code == 200


async def test_open_streams_are_counted_in_the_metrics(
    replicas: tuple[Served, Served], alice: Account
) -> None:
    _, b = replicas
    async with http(b) as client:

        async def open_streams() -> float:
            text = (await client.get("/metrics")).text
            [line] = [row for row in text.splitlines() if row.startswith("tracker_live_streams ")]
            return float(line.split()[1])

        before = await open_streams()
        async with stream(b.url, alice.headers) as events, stream(b.url, alice.headers) as more:
            await events.position()
            await more.position()
            assert await open_streams() == before + 2
        async with asyncio.timeout(5):
            while await open_streams() != before:
                await asyncio.sleep(0.05)
