"""From ``DELETE /api/user`` answered to nothing of that person left in any service.

Real auth, tasks and notifier processes run as in `make dev`. Users register (each gets a
welcome mail, so the notifier holds a recipient and a delivery of theirs) and create a few
tasks; then they delete their accounts at a steady rate while this process watches the
tasks and notifier databases. A user counts as erased from a service at the first look
that finds no row of theirs there (auth erases inside the request itself). Beside it, the
same run measures how long a logout takes to reach the tasks service (the relay and one
consumer): the floor of any cross-service erasure.

Password hashing is set cheaper here (it is not part of the measured path); the output
says so.
"""

import asyncio
import os
import time

import asyncpg
import httpx

from bench.database import AUTH, NOTIFIER, TASKS
from bench.progress import say
from bench.report import ScenarioReport, latency_figures
from bench.services import ServiceError, mailing_stack, uvicorn_service
from devsupport.accounts import PASSWORD, Account, bearer, new_email, register
from scripts.mail_catcher import MailCatcher
from tracker_runtime.database import libpq_dsn

NAME = "erase"
USERS = int(os.environ.get("BENCH_ERASE_USERS", "200"))
RATE = float(os.environ.get("BENCH_ERASE_RATE", "10"))
TASKS_PER_USER = 5
CONCURRENCY = 2
LOOK_EVERY_S = 0.02
GIVE_UP_AFTER_S = 60.0

TASKS_LEFT = "SELECT DISTINCT owner_id::text AS id FROM tasks WHERE owner_id = ANY($1::uuid[])"
NOTIFIER_LEFT = """
SELECT user_id::text AS id FROM recipients WHERE user_id = ANY($1::uuid[])
UNION SELECT user_id::text FROM deliveries WHERE user_id = ANY($1::uuid[])
"""


async def _create_accounts(auth_url: str, tasks_url: str) -> list[Account]:
    accounts: list[Account] = []
    limit = asyncio.Semaphore(8)
    async with (
        httpx.AsyncClient(base_url=auth_url, timeout=30) as auth,
        httpx.AsyncClient(base_url=tasks_url, timeout=30) as tasks,
    ):

        async def one() -> None:
            async with limit:
                account = await register(auth, new_email("erase"))
                for number in range(TASKS_PER_USER):
                    response = await tasks.post(
                        "/api/tasks", json={"title": f"Task {number}"}, headers=account.headers
                    )
                    if response.status_code != 201:
                        raise ServiceError(f"POST /api/tasks answered {response.status_code}")
                accounts.append(account)

        await asyncio.gather(*(one() for _ in range(USERS)))
    return accounts


async def _wait_for_welcome_mails(catcher: "CountingCatcher", expected: int) -> None:
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    while catcher.count < expected:
        if time.monotonic() > deadline:
            raise ServiceError(f"{catcher.count} of {expected} welcome mails after 60 s")
        await asyncio.sleep(0.1)


async def _watch(
    url: str, query: str, ids: list[str], deleted_at: dict[str, float]
) -> dict[str, float]:
    """When each of ``ids`` was first seen gone from the database at ``url``, after its
    deletion was answered."""
    gone: dict[str, float] = {}
    connection = await asyncpg.connect(libpq_dsn(url))
    try:
        deadline = time.monotonic() + GIVE_UP_AFTER_S + len(ids) / RATE
        while len(gone) < len(ids) and time.monotonic() < deadline:
            looked_at = time.monotonic()
            left = {row["id"] for row in await connection.fetch(query, ids)}
            for user_id, answered_at in list(deleted_at.items()):
                if user_id not in left and user_id not in gone and looked_at >= answered_at:
                    gone[user_id] = looked_at
            await asyncio.sleep(LOOK_EVERY_S)
    finally:
        await connection.close()
    return gone


async def _delete_steadily(
    auth_url: str, accounts: list[Account], answered: dict[str, float]
) -> None:
    """``DELETE /api/user`` for every account at RATE per second, noting in ``answered``
    when each was answered (the watchers read it as it fills)."""
    async with httpx.AsyncClient(base_url=auth_url, timeout=30) as client:

        async def delete(account: Account) -> None:
            response = await client.request(
                "DELETE", "/api/user", json={"password": PASSWORD}, headers=account.headers
            )
            if response.status_code != 204:
                raise ServiceError(f"DELETE /api/user answered {response.status_code}")
            answered[account.id] = time.monotonic()

        started = time.monotonic()
        pending = []
        for number, account in enumerate(accounts):
            await asyncio.sleep(max(0.0, started + number / RATE - time.monotonic()))
            pending.append(asyncio.create_task(delete(account)))
        await asyncio.gather(*pending)


async def _logout_floor(auth_url: str, tasks_url: str, samples: int = 50) -> list[float]:
    """Seconds from a logout answered to the tasks service refusing its access token."""
    seconds: list[float] = []
    async with (
        httpx.AsyncClient(base_url=auth_url, timeout=30) as auth,
        httpx.AsyncClient(base_url=tasks_url, timeout=30) as tasks,
    ):
        for _ in range(samples):
            account = await register(auth, new_email("erase-floor"))
            headers = bearer(account.access_token)
            await auth.delete("/api/session", headers=headers)
            answered = time.monotonic()
            while (await tasks.get("/api/tasks", headers=headers)).status_code != 401:
                if time.monotonic() - answered > GIVE_UP_AFTER_S:
                    raise ServiceError("a logout never reached the tasks service")
                await asyncio.sleep(LOOK_EVERY_S)
            seconds.append(time.monotonic() - answered)
    return seconds


async def _measure(
    auth_url: str, tasks_url: str, catcher: "CountingCatcher"
) -> tuple[dict[str, float], dict[str, float], dict[str, float], list[float]]:
    say(f"erase: {USERS} users with {TASKS_PER_USER} tasks each")
    accounts = await _create_accounts(auth_url, tasks_url)
    await _wait_for_welcome_mails(catcher, USERS)
    ids = [account.id for account in accounts]
    answered: dict[str, float] = {}
    say(f"erase: deleting them at {RATE:.0f} per second")
    watching = [
        asyncio.create_task(_watch(TASKS.url, TASKS_LEFT, ids, answered)),
        asyncio.create_task(_watch(NOTIFIER.url, NOTIFIER_LEFT, ids, answered)),
    ]
    await _delete_steadily(auth_url, accounts, answered)
    tasks_gone, notifier_gone = await asyncio.gather(*watching)
    say("erase: the logout floor, 50 logouts")
    floor = await _logout_floor(auth_url, tasks_url)
    return answered, tasks_gone, notifier_gone, floor


class CountingCatcher(MailCatcher):
    def __init__(self) -> None:
        super().__init__(None)
        self.count = 0

    def received(self, recipients: list[str], content: bytes, session: object) -> None:
        self.count += len(recipients)


def run() -> ScenarioReport:
    catcher = CountingCatcher()
    with (
        mailing_stack(NAME, catcher, [AUTH, TASKS, NOTIFIER], concurrency=CONCURRENCY) as stack,
        uvicorn_service("erase-auth", "tracker_auth.main:create_app", stack.environment) as auth,
        uvicorn_service(
            "erase-tasks",
            "tracker_tasks.main:create_app",
            {**stack.environment, "TASKS_JWKS_URL": auth.url("/.well-known/jwks.json")},
        ) as tasks,
    ):
        answered, tasks_gone, notifier_gone, floor = asyncio.run(
            _measure(auth.base_url, tasks.base_url, catcher)
        )

    in_tasks = [tasks_gone[u] - answered[u] for u in answered if u in tasks_gone]
    in_notifier = [notifier_gone[u] - answered[u] for u in answered if u in notifier_gone]
    everywhere = [
        max(tasks_gone[u], notifier_gone[u]) - answered[u]
        for u in answered
        if u in tasks_gone and u in notifier_gone
    ]
    missing = len(answered) - len(everywhere)
    erased, floor_ms = latency_figures(everywhere), latency_figures(floor)
    figures = {
        "users": len(answered),
        "not_erased_in_time": missing,
        "erased_everywhere": erased,
        "erased_from_tasks": latency_figures(in_tasks),
        "erased_from_notifier": latency_figures(in_notifier),
        "baseline_logout_reaches_tasks": floor_ms,
    }
    return ScenarioReport(
        name=NAME,
        title="account deletion answered to erased in every service",
        figures=figures,
        settings={
            "users": USERS,
            "deletions_per_s": RATE,
            "tasks_per_user": TASKS_PER_USER,
            "looked_every_ms": LOOK_EVERY_S * 1000,
            "password_hashing": "argon2id m=8 MiB t=1 (cheaper than production on purpose)",
            "worker_concurrency": CONCURRENCY,
        },
        notes=[
            f"erased everywhere: p50 {erased['p50_ms']} ms, p99 {erased['p99_ms']} ms"
            + (f"; {missing} not erased within {GIVE_UP_AFTER_S:.0f} s" if missing else ""),
            f"baseline (same run), logout to token refused by tasks: "
            f"p50 {floor_ms['p50_ms']} ms, p99 {floor_ms['p99_ms']} ms",
        ],
    )
