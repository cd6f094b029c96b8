"""One chaos run: the stack started, the people let loose, the faults on their schedule,
digest ticks at chosen instants, then the drain and the checks.

The schedule (seconds after the load starts, from the :class:`~chaos.profile.Profile`):
SMTP answers 451 for a while; the broker is cut; tasks replica 1 is restarted; a digest
batch is made and the worker sending it is killed between two mails (then started again);
every connection to the run's databases is terminated. Further digest ticks go out twice
each, as two beats would send them. The ticks name instants just after the coming
midnights of the people's zones (see :data:`chaos.people.TIMEZONES`), where every person's
day is the date the run started: each confirmed person is due exactly one digest for it.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.digest import send_digest_tick
from bench.progress import say
from chaos.checks import Observed, Outcome, User, evaluate
from chaos.mail import TASK_LINK
from chaos.people import TIMEZONES, Person, Traffic, people
from chaos.profile import Profile
from chaos.stack import Names, Stack, database_rows

SETTLE_S = 5.0
"""Waited once everything drained, for late duplicates to show up."""
POLL_S = 2.0
BATCH_TO_KILL_IN = 3
"""Confirmed people the notifier must know before the tick whose batch a worker dies in."""
LAST_ZONES = ("UTC", "Europe/London")
"""Where midnight comes last among :data:`chaos.people.TIMEZONES` (in summer London's
comes an hour earlier, with the tick one hour before UTC's, and UTC's is left alone)."""
EARLIER_MIDNIGHTS_H = (4, 2, 1)
"""Hours before midnight in UTC of the ticks for Dubai's, Athens' and Berlin's midnights
(in winter; in summer the tick two hours before finds Berlin's midnight passed as well)."""


def digest_instant(day: date, minute: int) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        minutes=minute
    )


class Run:
    def __init__(self, profile: Profile, names: Names, workdir: Path, seed: int) -> None:
        self.profile = profile
        self.names = names
        self.stack = Stack(names, profile, workdir)
        self.traffic = Traffic()
        self.seed = seed
        self.day = datetime.now(UTC).date()
        self.people: list[Person] = []

    def tick(self, minute: int) -> None:
        """A digest tick ``minute`` minutes after the coming midnight in UTC."""
        self.tick_at(digest_instant(self.day, minute))

    def tick_at(self, at: datetime) -> None:
        """A digest tick at ``at``, sent to the broker itself (not through the proxy: the
        scenario's own messages are not what the faults are about)."""
        say(f"chaos: digest tick at {at.isoformat()}")
        send_digest_tick(self.names.rabbitmq_url, at)

    async def _at(self, start: float, offset: float, action: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        await action()

    async def _twice(self, minute: int) -> None:
        await asyncio.to_thread(self.tick, minute)
        await asyncio.to_thread(self.tick, minute)

    async def run(self) -> Outcome:
        async with self.stack.running() as stack:
            self.people = people(
                self.profile, stack.gateway_url, stack.catcher, self.traffic, self.seed
            )
            profile = self.profile
            say(
                f"chaos: {profile.people} people over {profile.arrivals_s:.0f} s, acting for "
                f"{profile.load_s:.0f} s ({profile.name} profile)"
            )
            start = time.monotonic()
            stop_at = start + profile.load_s
            spacing = profile.arrivals_s / max(1, profile.people)
            lives = [
                asyncio.create_task(person.life(start + n * spacing, stop_at))
                for n, person in enumerate(self.people)
            ]
            schedule = [
                (profile.smtp_deferral_at, lambda: stack.defer_mail(profile.smtp_deferral_s)),
                (profile.broker_cut_at, lambda: stack.cut_broker(profile.broker_cut_s)),
                (profile.tasks_restart_at, lambda: stack.restart_tasks(1)),
                (profile.notifier_kill_at, self._kill_notifier_mid_batch),
                (profile.database_cut_at, stack.cut_database),
                *(
                    (offset, lambda minute=2 + n: self._twice(minute))
                    for n, offset in enumerate(profile.digest_ticks_at)
                ),
            ]
            faults = [asyncio.create_task(self._at(start, *entry)) for entry in schedule]
            try:
                await asyncio.gather(*lives, *faults)
                load_ended = time.monotonic()
                say(f"chaos: the load is over after {load_ended - start:.0f} s; draining")
                drain_s = await self._drain(load_ended)
                if drain_s is not None:
                    say(f"chaos: drained {drain_s:.1f} s after the load; settling")
                    await asyncio.sleep(SETTLE_S)
                else:
                    say("chaos: did not drain in time")
                observed = await self._observe(drain_s)
            finally:
                for task in [*lives, *faults]:
                    task.cancel()
                await asyncio.gather(*(person.leave() for person in self.people))
            dead = stack.dead()
        outcome = evaluate(observed)
        if dead:
            outcome.counts["processes that died by themselves"] = ", ".join(dead)
        return outcome

    async def _kill_notifier_mid_batch(self) -> None:
        """A digest batch of several mails, and a worker killed in its middle.

        A tick sends one batch per window of days (people whose midnight fell at the same
        instant), each a task of its own. So first the ticks of the night's earlier
        midnights (Dubai's, Athens', Berlin's) send those people's digests; once they are
        out, the tick just after midnight in UTC finds only the people in UTC and London:
        one batch, of at least two (the notifier knows that many by then), in which the
        sender is held after its first mail and killed."""
        wanted = min(BATCH_TO_KILL_IN, sum(1 for p in self.people if p.timezone in LAST_ZONES))
        deadline = time.monotonic() + self.profile.drain_timeout_s
        while await self._known_confirmed(LAST_ZONES) < wanted and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        for hours_before in EARLIER_MIDNIGHTS_H:
            at = digest_instant(self.day, 1) - timedelta(hours=hours_before)
            await asyncio.to_thread(self.tick_at, at)
        while await self._digests_unsent() and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S / 4)
        await self.stack.kill_notifier_mid_batch(lambda: self.tick(1))

    async def _digests_unsent(self) -> int:
        rows = await database_rows(
            self.names.notifier_database,
            "SELECT count(*) FROM deliveries WHERE kind = 'digest' AND status <> 'sent'",
        )
        return int(rows[0][0])

    async def _known_confirmed(self, zones: tuple[str, ...] = TIMEZONES) -> int:
        """Confirmed people in ``zones`` the notifier knows of."""
        rows = await database_rows(
            self.names.notifier_database,
            "SELECT count(*) FROM recipients WHERE email_verified AND timezone = ANY($1::text[])",
            list(zones),
        )
        return int(rows[0][0])

    # -- the drain ------------------------------------------------------------------------

    async def _drain(self, load_ended: float) -> float | None:
        """Seconds from the end of the load until every mail due was accepted, no outbox
        row is left unpublished, no mail unsent, no message queued and every live stream
        has caught up; ``None`` when that did not happen within the profile's time."""
        deadline = load_ended + self.profile.drain_timeout_s
        await self._wait_for_confirmations(deadline)
        await self._twice(5)
        while time.monotonic() < deadline:
            pending = await self._pending()
            if not pending:
                return time.monotonic() - load_ended
            say(f"chaos: waiting for {', '.join(pending)}")
            await asyncio.sleep(POLL_S)
        return None

    async def _wait_for_confirmations(self, deadline: float) -> None:
        """Until the notifier knows of every confirmed address: the final digest tick must
        find everyone."""
        while time.monotonic() < deadline:
            confirmed = await database_rows(
                self.names.auth_database, "SELECT count(*) FROM users WHERE email_verified"
            )
            if confirmed[0][0] == await self._known_confirmed():
                return
            await asyncio.sleep(POLL_S)

    async def _pending(self) -> list[str]:
        pending = []
        users = await self._users()
        mails = self.stack.catcher.snapshot()
        welcomed = {mail.to for mail in mails if mail.kind == "welcome"}
        digested = {mail.to for mail in mails if mail.kind == "digest"}
        reminded = {mail.link(TASK_LINK) for mail in mails if mail.kind == "reminder"}
        if any(user.email.lower() not in welcomed for user in users):
            pending.append("welcome mails")
        if any(user.verified and user.email.lower() not in digested for user in users):
            pending.append("digests")
        verified = {user.id for user in users if user.verified}
        reminders = await self._reminders()
        if any(o in verified and t not in reminded for t, (o, _) in reminders.items()):
            pending.append("reminders")
        if sum((await self._outbox_left()).values()):
            pending.append("outbox rows")
        if await self._deliveries_left():
            pending.append("unsent mails")
        heads = await self._heads()
        if any(
            p.user_id is not None and (w.last_id or 0) != heads.get(p.user_id, 0)
            for p in self.people
            for w in p.watches
        ):
            pending.append("live streams")
        if not pending:
            depths = await asyncio.to_thread(self.stack.queue_depths)
            if sum(depths.values()):
                pending.append("queued messages")
        return pending

    # -- what the checks read -------------------------------------------------------------

    async def _users(self) -> list[User]:
        rows = await database_rows(
            self.names.auth_database, "SELECT id, email, email_verified FROM users"
        )
        return [User(row["id"], row["email"], row["email_verified"]) for row in rows]

    async def _reminders(self) -> dict[str, tuple[uuid.UUID, datetime]]:
        rows = await database_rows(
            self.names.tasks_database,
            "SELECT id, owner_id, reminder_at FROM tasks "
            "WHERE reminder_at IS NOT NULL AND status = 'open'",
        )
        return {str(row["id"]): (row["owner_id"], row["reminder_at"]) for row in rows}

    async def _heads(self) -> dict[uuid.UUID, int]:
        rows = await database_rows(
            self.names.tasks_database, "SELECT owner_id, position FROM task_change_heads"
        )
        return {row["owner_id"]: int(row["position"]) for row in rows}

    async def _outbox_left(self) -> dict[str, int]:
        left = {}
        for service, url in (
            ("auth", self.names.auth_database),
            ("tasks", self.names.tasks_database),
        ):
            rows = await database_rows(
                url, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            left[service] = int(rows[0][0])
        return left

    async def _deliveries_left(self) -> dict[str, int]:
        rows = await database_rows(
            self.names.notifier_database,
            "SELECT status, count(*) FROM deliveries WHERE status <> 'sent' GROUP BY status",
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def _observe(self, drain_s: float | None) -> Observed:
        return Observed(
            users=await self._users(),
            reminders=await self._reminders(),
            heads=await self._heads(),
            mails=self.stack.catcher.snapshot(),
            answers=list(self.traffic.answers),
            unexpected=list(self.traffic.unexpected),
            watches=[watch for person in self.people for watch in person.watches],
            faults=list(self.stack.faults),
            outbox_left=await self._outbox_left(),
            deliveries_left=await self._deliveries_left(),
            queue_depths=await asyncio.to_thread(self.stack.queue_depths),
            drain_s=drain_s,
            deferred=self.stack.catcher.deferred,
        )


async def run(profile: Profile, names: Names, workdir: Path, seed: int = 18) -> Outcome:
    return await Run(profile, names, workdir, seed).run()
