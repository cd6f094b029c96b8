"""What a chaos run must have achieved, checked from what the SMTP server accepted, what
the people's requests and live streams saw, and what the services' databases and the
broker hold once it is over; printed as a table."""

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from chaos.mail import TASK_LINK, CaughtMail
from chaos.people import Answer, LiveWatch
from chaos.stack import Fault

DATABASE_CUT = "PostgreSQL connections terminated"
FAULTS = 5
"""SMTP 4xx, the broker cut, the tasks restart, the notifier killed, the database cut."""
DATABASE_RECOVERY_S = 15.0
"""After the database cut, requests may be answered 503 for this long."""


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    verified: bool


@dataclass
class Observed:
    """Everything the checks read, gathered once the run has drained (or given up)."""

    users: list[User]
    reminders: dict[str, tuple[uuid.UUID, datetime]]
    """Open tasks with a reminder: task id -> (owner, reminder instant)."""
    heads: dict[uuid.UUID, int]
    """Each person's last live-feed position."""
    mails: list[CaughtMail]
    answers: list[Answer]
    unexpected: list[str]
    watches: list[LiveWatch]
    faults: list[Fault]
    outbox_left: dict[str, int]
    deliveries_left: dict[str, int]
    """Notifier mails not sent, by status."""
    queue_depths: dict[str, int]
    drain_s: float | None
    """From the end of the load until everything was delivered and empty; ``None``: never."""
    deferred: int


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Outcome:
    checks: list[Check] = field(default_factory=list)
    counts: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    """Answers a person did not expect (shown, not judged: a 5xx is judged above)."""

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def table(self) -> str:
        width = max(len(check.name) for check in self.checks)
        lines = [
            f"| {'check':<{width}} | result | detail",
            f"|{'-' * (width + 2)}|--------|-------",
        ]
        for check in self.checks:
            result = "ok" if check.ok else "FAILED"
            lines.append(f"| {check.name:<{width}} | {result:<6} | {check.detail}")
        lines.append("")
        width = max(len(name) for name in self.counts)
        lines.append(f"| {'count':<{width}} | value")
        lines.append(f"|{'-' * (width + 2)}|------")
        lines.extend(f"| {name:<{width}} | {value}" for name, value in self.counts.items())
        return "\n".join(lines)


@dataclass
class Tally:
    """Mails of one kind against the ones due: one per key, exactly."""

    due: int = 0
    missing: int = 0
    duplicates: int = 0
    same_message_id: int = 0
    """Of the duplicates, copies of the very same message (the documented window of a
    worker killed between the server's 250 and its commit); the rest are distinct mails."""
    unexpected: int = 0

    def add(self, due: set[str], copies: dict[str, list[CaughtMail]]) -> None:
        self.due += len(due)
        self.missing += sum(1 for key in due if not copies.get(key))
        self.unexpected += sum(len(mails) for key, mails in copies.items() if key not in due)
        for key in due:
            mails = copies.get(key, [])
            if len(mails) > 1:
                self.duplicates += len(mails) - 1
                distinct = len({mail.message_id for mail in mails})
                self.same_message_id += len(mails) - distinct

    @property
    def ok(self) -> bool:
        return self.missing == self.duplicates == self.unexpected == 0

    def detail(self, sent: int) -> str:
        return (
            f"{self.due} due, {sent} accepted, {self.missing} missing, {self.duplicates} "
            f"duplicates ({self.same_message_id} of the same message), "
            f"{self.unexpected} not due"
        )


def _by(mails: list[CaughtMail], kind: str, key: str = "to") -> dict[str, list[CaughtMail]]:
    grouped: dict[str, list[CaughtMail]] = defaultdict(list)
    for mail in mails:
        if mail.kind == kind:
            grouped[(mail.link(TASK_LINK) or "?") if key == "task" else mail.to].append(mail)
    return grouped


def evaluate(observed: Observed) -> Outcome:
    outcome = Outcome(unexpected=observed.unexpected)
    mails = observed.mails
    everyone = {user.email.lower() for user in observed.users}
    confirmed = {user.email.lower() for user in observed.users if user.verified}
    confirmed_ids = {user.id for user in observed.users if user.verified}

    welcome, digest, reminder = Tally(), Tally(), Tally()
    welcome.add(everyone, _by(mails, "welcome"))
    digest.add(confirmed, _by(mails, "digest"))
    due_reminders = {
        task_id for task_id, (owner, _) in observed.reminders.items() if owner in confirmed_ids
    }
    reminder_mails = _by(mails, "reminder", key="task")
    reminder.add(due_reminders, reminder_mails)
    others = [mail for mail in mails if mail.kind == "other"]
    kinds = Counter(mail.kind for mail in mails)
    outcome.checks += [
        Check("exactly one welcome mail per person", welcome.ok, welcome.detail(kinds["welcome"])),
        Check("exactly one digest per confirmed person", digest.ok, digest.detail(kinds["digest"])),
        Check("each due reminder exactly once", reminder.ok, reminder.detail(kinds["reminder"])),
        Check("no other mail", not others, f"{len(others)} other mails"),
    ]

    lateness = [
        min(mail.accepted_at for mail in reminder_mails[task_id])
        - observed.reminders[task_id][1].timestamp()
        for task_id in due_reminders
        if reminder_mails.get(task_id)
    ]

    gaps = sum(len(watch.gaps) for watch in observed.watches)
    behind = sum(
        1
        for watch in observed.watches
        if watch.person.user_id is not None
        and (watch.last_id or 0) != observed.heads.get(watch.person.user_id, 0)
    )
    resyncs = sum(watch.resyncs for watch in observed.watches)
    reconnects = sum(watch.reconnects for watch in observed.watches)
    events = sum(watch.events for watch in observed.watches)
    outcome.checks.append(
        Check(
            "no live stream missed a change without a resync",
            gaps == 0 and behind == 0,
            f"{len(observed.watches)} streams, {events} changes received, {reconnects} "
            f"reconnects, {resyncs} resyncs, {gaps} gaps, {behind} behind at the end",
        )
    )

    cuts = [fault for fault in observed.faults if fault.name == DATABASE_CUT]
    failures = [answer for answer in observed.answers if not 0 < answer.status < 500]

    def during_a_cut(answer: Answer) -> bool:
        return answer.status == 503 and any(
            cut.started - 1 <= answer.started <= cut.ended + DATABASE_RECOVERY_S for cut in cuts
        )

    excused = [answer for answer in failures if during_a_cut(answer)]
    wrong = Counter(
        f"{answer.status or 'no answer'} to {answer.route}"
        for answer in failures
        if not during_a_cut(answer)
    )
    outcome.checks.append(
        Check(
            "no 5xx but a 503 during the database cut",
            not wrong,
            f"{len(observed.answers)} requests, {len(excused)} answered 503 during the cut"
            + (f"; {dict(wrong.most_common(5))}" if wrong else ""),
        )
    )

    missed = [fault.name for fault in observed.faults if not fault.struck]
    outcome.checks.append(
        Check(
            "every fault struck",
            not missed and len(observed.faults) >= FAULTS,
            f"{len(observed.faults)} of {FAULTS} faults"
            + (f"; not done: {', '.join(missed)}" if missed else ""),
        )
    )

    outbox = sum(observed.outbox_left.values())
    unsent = sum(observed.deliveries_left.values())
    queued = sum(observed.queue_depths.values())
    outcome.checks.append(
        Check(
            "outboxes and queues drain to zero",
            observed.drain_s is not None and outbox == unsent == queued == 0,
            f"outbox rows unpublished {observed.outbox_left}, mails unsent "
            f"{observed.deliveries_left or 0}, messages queued "
            f"{ {name: n for name, n in observed.queue_depths.items() if n} or 0 }",
        )
    )

    tallies = (welcome, digest, reminder)
    outcome.counts = {
        "people (registered / confirmed)": f"{len(everyone)} / {len(confirmed)}",
        "mails accepted (welcome, digest, reminder, other)": (
            f"{len(mails)} ({kinds['welcome']}, {kinds['digest']}, {kinds['reminder']}, "
            f"{kinds['other']})"
        ),
        "duplicates (of the same message)": (
            f"{sum(t.duplicates for t in tallies)} ({sum(t.same_message_id for t in tallies)})"
        ),
        "missing": str(sum(t.missing for t in tallies)),
        "reminders due / worst lateness": (
            f"{len(due_reminders)} / {max(lateness):.1f} s"
            if lateness
            else f"{len(due_reminders)} / -"
        ),
        "time to drain after the load": (
            f"{observed.drain_s:.1f} s" if observed.drain_s is not None else "never"
        ),
        "requests (503 during the cut)": f"{len(observed.answers)} ({len(excused)})",
        "SMTP answers 451": str(observed.deferred),
        "unexpected answers": str(len(observed.unexpected)),
    }
    for fault in observed.faults:
        outcome.counts[f"fault: {fault.name}"] = fault.detail
    return outcome
