"""The internal summaries API: many users, one window, one SQL statement."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from devsupport.accounts import Account, bearer, service_token
from tests.support.database import execute
from tracker_contracts.internal import SUMMARIES_PATH, SummariesResponse
from tracker_runtime.logging import request_id_var

from ..revocations.test_known import from_memory
from ..support import NOTIFIER_SECRET, STRANGER_SECRET

DAY = datetime(2026, 3, 14, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)


async def add_task(
    app: FastAPI,
    owner: uuid.UUID,
    title: str,
    *,
    created_at: datetime = DAY - timedelta(days=7),
    completed_at: datetime | None = None,
    due_date: date | None = None,
    due_time: time | None = None,
) -> None:
    await execute(
        app,
        "INSERT INTO tasks (id, owner_id, title, status, created_at, completed_at, due_date, "
        "due_time) VALUES (:id, :owner, :title, :status, :created_at, :completed_at, "
        ":due_date, :due_time)",
        id=uuid.uuid4(),
        owner=owner,
        title=title,
        status="open" if completed_at is None else "done",
        created_at=created_at,
        completed_at=completed_at,
        due_date=due_date,
        due_time=due_time,
    )


@pytest.fixture
async def notifier_token(auth: httpx.AsyncClient) -> str:
    return await service_token(auth, "notifier", NOTIFIER_SECRET)


async def ask(
    client: httpx.AsyncClient, token: str, user_ids: list[uuid.UUID], **window: Any
) -> SummariesResponse:
    body = {
        "user_ids": [str(user_id) for user_id in user_ids],
        "start": DAY.isoformat(),
        "end": NEXT_DAY.isoformat(),
        **window,
    }
    response = await client.post(SUMMARIES_PATH, json=body, headers=bearer(token))
    assert response.status_code == 200, response.text
    return SummariesResponse.model_validate(response.json())


async def test_the_window_includes_its_start_and_excludes_its_end(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str
) -> None:
    user = uuid.uuid4()
    await add_task(app, user, "just before", completed_at=DAY - timedelta(microseconds=1))
    await add_task(app, user, "at the start", completed_at=DAY)
    await add_task(app, user, "midday", completed_at=DAY + timedelta(hours=12))
    await add_task(app, user, "last microsecond", completed_at=NEXT_DAY - timedelta(microseconds=1))
    await add_task(app, user, "at the end", completed_at=NEXT_DAY)

    [summary] = (await ask(client, notifier_token, [user])).summaries

    assert summary.completed_count == 3
    assert summary.completed_titles == ["at the start", "midday", "last microsecond"]
    assert summary.open_count == 0
    assert summary.open_titles == []


async def test_the_window_is_an_instant_range_in_any_offset(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str
) -> None:
    """A Berlin day is 23:00Z to 23:00Z in winter; offsets in the request are honoured."""
    user = uuid.uuid4()
    await add_task(
        app,
        user,
        "Berlin 23:59:59.999999",
        completed_at=datetime(2026, 1, 10, 22, 59, 59, 999999, tzinfo=UTC),
    )
    await add_task(app, user, "Berlin next day", completed_at=datetime(2026, 1, 10, 23, tzinfo=UTC))

    [summary] = (
        await ask(
            client,
            notifier_token,
            [user],
            start="2026-01-10T00:00:00+01:00",
            end="2026-01-11T00:00:00+01:00",
        )
    ).summaries

    assert summary.completed_titles == ["Berlin 23:59:59.999999"]


async def test_open_tasks_oldest_first_and_titles_capped(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str
) -> None:
    user = uuid.uuid4()
    for day in range(6):
        await add_task(app, user, f"open {day}", created_at=DAY - timedelta(days=10 - day))
    for hour in range(4):
        await add_task(app, user, f"done {hour}", completed_at=DAY + timedelta(hours=hour))

    [summary] = (await ask(client, notifier_token, [user], titles=2)).summaries
    [none] = (await ask(client, notifier_token, [user], titles=0)).summaries

    assert summary.open_count == 6
    assert summary.open_titles == ["open 0", "open 1"]
    assert summary.completed_count == 4
    assert summary.completed_titles == ["done 0", "done 1"]
    assert (none.open_count, none.open_titles, none.completed_titles) == (6, [], [])


async def test_one_entry_per_user_in_request_order_with_zeros_for_the_idle(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str, alice: Account
) -> None:
    busy, idle, unknown = uuid.UUID(alice.id), uuid.uuid4(), uuid.uuid4()
    await add_task(app, busy, "open")
    await add_task(app, busy, "done today", completed_at=DAY + timedelta(hours=1))
    await add_task(app, busy, "done yesterday", completed_at=DAY - timedelta(hours=1))
    await add_task(app, idle, "done last week", completed_at=DAY - timedelta(days=7))

    summaries = (await ask(client, notifier_token, [unknown, busy, idle, busy])).summaries

    assert [s.user_id for s in summaries] == [unknown, busy, idle]
    by_user = {s.user_id: s for s in summaries}
    assert by_user[busy].open_count == 1
    assert by_user[busy].completed_titles == ["done today"]
    for user in (idle, unknown):
        assert by_user[user].model_dump(exclude={"user_id"}) == {
            "open_count": 0,
            "open_titles": [],
            "completed_count": 0,
            "completed_titles": [],
            "overdue_count": 0,
            "overdue_titles": [],
            "due_today_count": 0,
            "due_today_titles": [],
        }


async def test_overdue_and_due_today_by_the_local_day_of_the_window(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str
) -> None:
    """The window is 14 March in some zone: overdue is open and due on or before 14 March,
    due today is due on 15 March, the day that starts at the window's end."""
    user = uuid.uuid4()
    day = DAY.date()
    await add_task(app, user, "long overdue", due_date=day - timedelta(days=30))
    await add_task(app, user, "due on the day, untimed", due_date=day)
    await add_task(app, user, "due on the day at 23:00", due_date=day, due_time=time(23))
    await add_task(app, user, "today untimed", due_date=day + timedelta(days=1))
    await add_task(app, user, "today 07:00", due_date=day + timedelta(days=1), due_time=time(7))
    await add_task(app, user, "tomorrow", due_date=day + timedelta(days=2))
    await add_task(app, user, "undated")
    await add_task(app, user, "done, was due", due_date=day, completed_at=DAY - timedelta(hours=3))

    [summary] = (await ask(client, notifier_token, [user], day=day.isoformat())).summaries
    [capped] = (await ask(client, notifier_token, [user], day=day.isoformat(), titles=1)).summaries
    [dayless] = (await ask(client, notifier_token, [user])).summaries

    assert summary.overdue_count == 3
    assert summary.overdue_titles == [
        "long overdue",
        "due on the day at 23:00",
        "due on the day, untimed",
    ]
    assert summary.due_today_count == 2
    assert summary.due_today_titles == ["today 07:00", "today untimed"]
    assert summary.open_count == 7
    assert (capped.overdue_count, capped.overdue_titles) == (3, ["long overdue"])
    assert (capped.due_today_count, capped.due_today_titles) == (2, ["today 07:00"])
    assert (dayless.overdue_count, dayless.due_today_count) == (0, 0)
    assert dayless.open_count == 7


@pytest.mark.parametrize(
    ("zone_day", "start", "end"),
    [
        # Kiritimati (UTC+14): 14 March is 13 March 10:00Z to 14 March 10:00Z.
        ("2026-03-14", "2026-03-14T00:00:00+14:00", "2026-03-15T00:00:00+14:00"),
        # Baker Island (UTC-12): 14 March is 14 March 12:00Z to 15 March 12:00Z.
        ("2026-03-14", "2026-03-14T00:00:00-12:00", "2026-03-15T00:00:00-12:00"),
    ],
)
async def test_the_due_parts_follow_the_day_not_the_instants(
    app: FastAPI,
    client: httpx.AsyncClient,
    notifier_token: str,
    zone_day: str,
    start: str,
    end: str,
) -> None:
    user = uuid.uuid4()
    day = date.fromisoformat(zone_day)
    await add_task(app, user, "due on the day", due_date=day)
    await add_task(app, user, "due the next day", due_date=day + timedelta(days=1))

    [summary] = (
        await ask(client, notifier_token, [user], start=start, end=end, day=zone_day)
    ).summaries

    assert summary.overdue_titles == ["due on the day"]
    assert summary.due_today_titles == ["due the next day"]


@contextmanager
def statements_of_request(app: FastAPI, request_id: str) -> Iterator[list[str]]:
    """The SQL statements executed while serving the request with ``request_id`` (the
    relay and the subscriber share the engine, so statements are told apart by the
    request id in context)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if request_id_var.get() == request_id:
            statements.append(statement)

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("users", [1, 50, 500])
async def test_one_sql_statement_per_batch_whatever_its_size(
    app: FastAPI, client: httpx.AsyncClient, notifier_token: str, users: int
) -> None:
    user_ids = [uuid.uuid4() for _ in range(users)]
    for user in user_ids[:10]:
        await add_task(app, user, "open")
        await add_task(app, user, "done", completed_at=DAY + timedelta(hours=1))
    body = {
        "user_ids": [str(user) for user in user_ids],
        "start": DAY.isoformat(),
        "end": NEXT_DAY.isoformat(),
        "day": DAY.date().isoformat(),
    }
    request_id = f"summaries-{uuid.uuid4()}"

    with statements_of_request(app, request_id) as statements:
        response = await client.post(
            SUMMARIES_PATH,
            json=body,
            headers={**bearer(notifier_token), "X-Request-ID": request_id},
        )

    assert response.status_code == 200
    assert len(response.json()["summaries"]) == users
    assert len(statements) == 1, statements
    assert "unnest" in statements[0]


async def test_the_statement_counter_sees_every_statement_of_a_request(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """The control for the test above: a user request runs its two queries (the open
    tasks, then the done ones), and the counter sees both. (The revoked sessions are
    answered from memory, without a statement, once the replica has read them.)"""
    await from_memory(app)
    request_id = f"list-{uuid.uuid4()}"

    with statements_of_request(app, request_id) as statements:
        response = await client.get(
            "/api/tasks", headers={**alice.headers, "X-Request-ID": request_id}
        )

    assert response.status_code == 200
    assert len(statements) == 2, statements
    assert all("FROM tasks" in statement for statement in statements)


async def test_a_user_token_is_refused_with_401(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        SUMMARIES_PATH,
        json={"user_ids": [alice.id], "start": DAY.isoformat(), "end": NEXT_DAY.isoformat()},
        headers=alice.headers,
    )

    assert response.status_code == 401
    assert response.json()["message"]


async def test_a_service_token_without_the_scope_is_refused_with_403(
    client: httpx.AsyncClient, auth: httpx.AsyncClient
) -> None:
    token = await service_token(auth, "stranger", STRANGER_SECRET)

    response = await client.post(
        SUMMARIES_PATH,
        json={
            "user_ids": [str(uuid.uuid4())],
            "start": DAY.isoformat(),
            "end": NEXT_DAY.isoformat(),
        },
        headers=bearer(token),
    )

    assert response.status_code == 403
    assert "tasks:summaries" in response.json()["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic bm90aWZpZXI6c2VjcmV0"}],
)
async def test_a_missing_token_is_refused_with_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        SUMMARIES_PATH,
        json={
            "user_ids": [str(uuid.uuid4())],
            "start": DAY.isoformat(),
            "end": NEXT_DAY.isoformat(),
        },
        headers=headers,
    )

    assert response.status_code == 401


async def test_a_service_token_in_a_cookie_opens_nothing(
    client: httpx.AsyncClient, notifier_token: str
) -> None:
    client.cookies.set("tt_access", notifier_token)

    response = await client.post(
        SUMMARIES_PATH,
        json={
            "user_ids": [str(uuid.uuid4())],
            "start": DAY.isoformat(),
            "end": NEXT_DAY.isoformat(),
        },
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"user_ids": [], "start": "2026-03-14T00:00:00Z", "end": "2026-03-15T00:00:00Z"},
        {"user_ids": ["x"], "start": "2026-03-14T00:00:00Z", "end": "2026-03-15T00:00:00Z"},
        {
            "user_ids": [str(uuid.UUID(int=1))],
            "start": "2026-03-15T00:00:00Z",
            "end": "2026-03-14T00:00:00Z",
        },
        {
            "user_ids": [str(uuid.UUID(int=1))],
            "start": "2026-03-14T00:00:00",
            "end": "2026-03-15T00:00:00Z",
        },
        {
            "user_ids": [str(uuid.UUID(int=1))] * 501,
            "start": "2026-03-14T00:00:00Z",
            "end": "2026-03-15T00:00:00Z",
        },
        {
            "user_ids": [str(uuid.UUID(int=1))],
            "start": "2026-03-14T00:00:00Z",
            "end": "2026-03-15T00:00:00Z",
            "titles": 21,
        },
        {
            "user_ids": [str(uuid.UUID(int=1))],
            "start": "2026-03-14T00:00:00Z",
            "end": "2026-03-15T00:00:00Z",
            "day": "2026-02-30",
        },
    ],
    ids=[
        "no users",
        "not a uuid",
        "backwards",
        "naive time",
        "too many users",
        "too many titles",
        "no such day",
    ],
)
async def test_invalid_requests_are_refused_with_422(
    client: httpx.AsyncClient, notifier_token: str, body: dict[str, Any]
) -> None:
    response = await client.post(SUMMARIES_PATH, json=body, headers=bearer(notifier_token))

    assert response.status_code == 422
    assert response.json()["message"]
