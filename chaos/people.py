"""The people of a chaos run, each in a task of their own: register through the gateway,
watch their tasks live, confirm their address with the link of the welcome mail, set
reminders, then change their tasks and log in again now and then until the load ends.

They behave as a web app does under faults: a 429, 502, 503 or 504, or no answer at all,
is retried after a pause; a live stream that ends is opened again with ``Last-Event-ID``.
Every answer is recorded (:class:`Traffic`) for the checks.
"""

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chaos.mail import ChaosMailCatcher
from chaos.profile import Profile
from devsupport.accounts import PASSWORD, SESSION_PATH, USER_PATH, bearer

TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "Europe/Athens", "Asia/Dubai")
"""Zones whose midnight lies within the digest's grace before 00:05 UTC: a digest tick
at that hour sends every person the digest of the same date."""
RETRIED = frozenset({429, 502, 503, 504})
ATTEMPTS = 12
CONFIRMATION_WAIT_S = 300.0
STREAM_PATH = "/api/tasks/events"
TASKS_PATH = "/api/tasks"


@dataclass(frozen=True)
class Answer:
    route: str
    status: int
    """0: no answer (the connection failed or timed out)."""
    started: float
    ended: float


@dataclass
class Traffic:
    answers: list[Answer] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    """Answers a person did not expect (a 4xx to a valid request, say), described."""

    def record(self, route: str, status: int, started: float) -> None:
        self.answers.append(Answer(route, status, started, time.monotonic()))


@dataclass
class LiveWatch:
    """One tab's live stream: the positions it received, and every gap between them."""

    person: "Person"
    last_id: int | None = None
    events: int = 0
    resyncs: int = 0
    repeats: int = 0
    reconnects: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    """(first missing position, position received instead), with no resync between."""

    async def run(self, client: httpx.AsyncClient, traffic: Traffic) -> None:
        """Hold the stream open, reopening it (as a browser does) until cancelled."""
        while True:
            headers = bearer(self.person.token)
            if self.last_id is not None:
                headers["Last-Event-ID"] = str(self.last_id)
            started = time.monotonic()
            answered = False
            try:
                async with client.stream("GET", STREAM_PATH, headers=headers) as response:
                    answered = True
                    traffic.record(f"GET {STREAM_PATH}", response.status_code, started)
                    if response.status_code == 200:
                        await self._read(response)
            except httpx.HTTPError:
                if not answered:
                    traffic.record(f"GET {STREAM_PATH}", 0, started)
            self.reconnects += 1
            await asyncio.sleep(1 + random.random())

    async def _read(self, response: httpx.Response) -> None:
        event, position = "", None
        async for line in response.aiter_lines():
            if line == "":
                if position is not None:
                    self.received(event, position)
                event, position = "", None
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "id" and value.isdigit():
                    position = int(value)

    def received(self, event: str, position: int) -> None:
        if event == "resync":
            self.resyncs += 1
            self.last_id = position
            return
        if event == "ready":
            if self.last_id is not None and position != self.last_id:
                self.gaps.append((self.last_id + 1, position))
            self.last_id = position
            return
        self.events += 1
        if self.last_id is None:
            self.last_id = position
        elif position <= self.last_id:
            self.repeats += 1
        else:
            if position != self.last_id + 1:
                self.gaps.append((self.last_id + 1, position))
            self.last_id = position


@dataclass
class Person:
    number: int
    email: str
    timezone: str
    profile: Profile
    gateway_url: str
    catcher: ChaosMailCatcher
    traffic: Traffic
    rng: random.Random
    user_id: uuid.UUID | None = None
    token: str = ""
    confirmed: bool = False
    open_tasks: list[str] = field(default_factory=list)
    done_tasks: list[str] = field(default_factory=list)
    anchor: str | None = None
    watches: list[LiveWatch] = field(default_factory=list)
    created: int = 0

    client: httpx.AsyncClient | None = None
    streams: list["asyncio.Task[None]"] = field(default_factory=list)

    async def life(self, arrival: float, stop_at: float) -> None:
        """Arrive, register, confirm, and act until ``stop_at``; the live streams stay
        open after that, until :meth:`leave`."""
        await asyncio.sleep(max(0.0, arrival - time.monotonic()))
        timeout = httpx.Timeout(60.0, connect=10.0)
        self.client = client = httpx.AsyncClient(base_url=self.gateway_url, timeout=timeout)
        if not await self._register(client):
            return
        tabs = 2 if self.number % self.profile.second_tab_every == 0 else 1
        self.watches = [LiveWatch(self) for _ in range(tabs)]
        self.streams = [asyncio.create_task(w.run(client, self.traffic)) for w in self.watches]
        # The anchor keeps the day from being empty: every confirmed person is due exactly
        # one digest. It exists before the address is confirmed, so that no digest tick can
        # claim the person with nothing to say.
        self.anchor = await self._create(client, f"Anchor of person {self.number}")
        if self.anchor is None or not await self._confirm(client):
            return
        await self._set_reminders(client)
        while time.monotonic() < stop_at:
            pause = self.rng.expovariate(1 / self.profile.think_s)
            await asyncio.sleep(min(pause, max(0.0, stop_at - time.monotonic())))
            if time.monotonic() < stop_at:
                await self._act(client)

    async def leave(self) -> None:
        """Close the live streams and the connections."""
        for stream in self.streams:
            stream.cancel()
        await asyncio.gather(*self.streams, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()

    # -- requests ---------------------------------------------------------------------------

    async def call(
        self, client: httpx.AsyncClient, method: str, path: str, route: str, **options: Any
    ) -> httpx.Response | None:
        """The request, retried as a web app retries it; ``None`` when it never got through."""
        headers = bearer(self.token) if self.token else {}
        for attempt in range(ATTEMPTS):
            started = time.monotonic()
            try:
                response = await client.request(method, path, headers=headers, **options)
            except httpx.HTTPError:
                self.traffic.record(route, 0, started)
                await asyncio.sleep(min(2**attempt, 8))
                continue
            finally:
                client.cookies.clear()  # the Bearer token authenticates, as an API client
            self.traffic.record(route, response.status_code, started)
            if response.status_code in RETRIED:
                await asyncio.sleep(min(2**attempt, 8))
                continue
            return response
        self.traffic.unexpected.append(f"{route}: no answer after {ATTEMPTS} attempts")
        return None

    def _unexpected(self, route: str, response: httpx.Response) -> None:
        self.traffic.unexpected.append(f"{route}: {response.status_code} {response.text[:200]}")

    async def _register(self, client: httpx.AsyncClient) -> bool:
        route = f"POST {USER_PATH}"
        fields = {"email": self.email, "password": PASSWORD, "timezone": self.timezone}
        response = await self.call(client, "POST", USER_PATH, route, json=fields)
        if response is not None and response.status_code == 409:
            # An earlier attempt went through but its answer was lost: log in instead.
            return await self._log_in(client)
        return self._signed_in(route, response)

    async def _log_in(self, client: httpx.AsyncClient) -> bool:
        route = f"POST {SESSION_PATH}"
        fields = {"email": self.email, "password": PASSWORD}
        response = await self.call(client, "POST", SESSION_PATH, route, json=fields)
        return self._signed_in(route, response)

    def _signed_in(self, route: str, response: httpx.Response | None) -> bool:
        """Take the id and access token of a registration's or a login's answer."""
        if response is None or response.status_code != 200:
            if response is not None:
                self._unexpected(route, response)
            return False
        body = response.json()
        self.user_id, self.token = uuid.UUID(body["id"]), body["access_token"]
        return True

    async def _confirm(self, client: httpx.AsyncClient) -> bool:
        deadline = time.monotonic() + CONFIRMATION_WAIT_S
        while (token := self.catcher.verification_token(self.email)) is None:
            if time.monotonic() > deadline:
                self.traffic.unexpected.append(f"no welcome mail to {self.email}")
                return False
            await asyncio.sleep(0.5)
        route = f"POST {USER_PATH}/email-verification"
        response = await self.call(
            client, "POST", f"{USER_PATH}/email-verification", route, json={"token": token}
        )
        if response is not None and response.status_code == 400:
            # The token was used by an attempt whose answer was lost: is the address confirmed?
            response = await self.call(client, "GET", USER_PATH, f"GET {USER_PATH}")
            self.confirmed = bool(
                response and response.status_code == 200 and response.json()["email_verified"]
            )
        else:
            self.confirmed = response is not None and response.status_code == 200
        if not self.confirmed and response is not None:
            self._unexpected(route, response)
        return self.confirmed

    async def _create(
        self, client: httpx.AsyncClient, title: str, reminder_at: datetime | None = None
    ) -> str | None:
        route = f"POST {TASKS_PATH}"
        fields: dict[str, str] = {"title": title}
        if reminder_at is not None:
            fields["reminder_at"] = reminder_at.isoformat()
        response = await self.call(client, "POST", TASKS_PATH, route, json=fields)
        if response is None or response.status_code != 201:
            if response is not None:
                self._unexpected(route, response)
            return None
        task_id: str = response.json()["id"]
        return task_id

    async def _set_reminders(self, client: httpx.AsyncClient) -> None:
        low, high = self.profile.reminder_lead_s
        for number in range(self.profile.reminders_per_person):
            lead = timedelta(seconds=self.rng.uniform(low, high))
            title = f"Reminder {number} of person {self.number}"
            # Never changed afterwards: each is due exactly one mail, at its instant.
            await self._create(client, title, datetime.now(UTC) + lead)

    async def _act(self, client: httpx.AsyncClient) -> None:
        choice = self.rng.random()
        if choice < 0.3 or not self.open_tasks:
            self.created += 1
            task_id = await self._create(client, f"Task {self.created} of person {self.number}")
            if task_id is not None:
                self.open_tasks.append(task_id)
        elif choice < 0.55:
            target = self.rng.choice([*self.open_tasks, self.anchor or self.open_tasks[0]])
            await self._change(client, target, {"title": f"Renamed at {time.time():.3f}"})
        elif choice < 0.7:
            target = self.open_tasks.pop(self.rng.randrange(len(self.open_tasks)))
            if await self._change(client, target, {"status": "done"}):
                self.done_tasks.append(target)
        elif choice < 0.8:
            pool = self.open_tasks if self.rng.random() < 0.5 or not self.done_tasks else None
            tasks = pool if pool is not None else self.done_tasks
            target = tasks.pop(self.rng.randrange(len(tasks)))
            route = f"DELETE {TASKS_PATH}/{{id}}"
            response = await self.call(client, "DELETE", f"{TASKS_PATH}/{target}", route)
            if response is not None and response.status_code not in (204, 404):
                self._unexpected(route, response)
        elif choice < 0.92:
            route = f"GET {TASKS_PATH}"
            response = await self.call(client, "GET", TASKS_PATH, route)
            if response is not None and response.status_code != 200:
                self._unexpected(route, response)
        else:
            await self._log_in(client)

    async def _change(
        self, client: httpx.AsyncClient, task_id: str, fields: dict[str, str]
    ) -> bool:
        route = f"PATCH {TASKS_PATH}/{{id}}"
        response = await self.call(client, "PATCH", f"{TASKS_PATH}/{task_id}", route, json=fields)
        if response is None or response.status_code != 200:
            if response is not None:
                self._unexpected(route, response)
            return False
        return True


def people(
    profile: Profile, gateway_url: str, catcher: ChaosMailCatcher, traffic: Traffic, seed: int
) -> list[Person]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    return [
        Person(
            number=number,
            email=f"chaos-{run}-{number}@example.com",
            timezone=TIMEZONES[number % len(TIMEZONES)],
            profile=profile,
            gateway_url=gateway_url,
            catcher=catcher,
            traffic=traffic,
            rng=random.Random(rng.random()),
        )
        for number in range(profile.people)
    ]
