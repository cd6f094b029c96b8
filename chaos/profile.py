"""How big and how long a chaos run is, and when each fault strikes (seconds after the
load starts). The full profile is ``make chaos``; the short one runs in ``make test``."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    people: int
    arrivals_s: float
    """People arrive (register) evenly over this span."""
    load_s: float
    """How long people keep acting; the drain and the checks follow."""
    think_s: float
    """Mean pause of one person between two actions."""
    reminders_per_person: int
    reminder_lead_s: tuple[float, float]
    """A reminder is set this far ahead (uniformly within), once the address is confirmed."""
    second_tab_every: int
    """Every n-th person watches their tasks in two tabs (two live streams)."""
    worker_concurrency: int
    smtp_deferral_at: float
    smtp_deferral_s: float
    broker_cut_at: float
    broker_cut_s: float
    tasks_restart_at: float
    notifier_kill_at: float
    """A digest tick is sent then, and a worker is killed in the middle of its batch."""
    database_cut_at: float
    digest_ticks_at: tuple[float, ...]
    """Further digest ticks (each sent twice, as two beats would), besides the one of the
    kill and the final one once the load is over."""
    drain_timeout_s: float


FULL = Profile(
    name="full",
    people=60,
    arrivals_s=90,
    load_s=240,
    think_s=5,
    reminders_per_person=2,
    reminder_lead_s=(60, 120),
    second_tab_every=3,
    worker_concurrency=2,
    smtp_deferral_at=150,
    smtp_deferral_s=30,
    broker_cut_at=75,
    broker_cut_s=10,
    tasks_restart_at=105,
    notifier_kill_at=130,
    database_cut_at=195,
    digest_ticks_at=(60, 215),
    drain_timeout_s=300,
)

SHORT = Profile(
    name="short",
    people=8,
    arrivals_s=10,
    load_s=65,
    think_s=4,
    reminders_per_person=1,
    reminder_lead_s=(30, 45),
    second_tab_every=4,
    worker_concurrency=1,
    smtp_deferral_at=42,
    smtp_deferral_s=18,
    broker_cut_at=30,
    broker_cut_s=10,
    tasks_restart_at=50,
    notifier_kill_at=18,
    database_cut_at=58,
    digest_ticks_at=(),
    drain_timeout_s=240,
)

PROFILES = {profile.name: profile for profile in (FULL, SHORT)}
