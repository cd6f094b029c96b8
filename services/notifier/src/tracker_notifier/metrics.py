"""The notifier's own metrics: mails by kind, digest runs, reminder lateness. The events'
counters are the shared ones (``tracker_runtime.metrics``).

They are made on first use, not on import: the worker switches prometheus-client to its
multiprocess mode when it starts (``worker_init``, see ``tracker_notifier.worker``), after
its modules were imported, and a metric made before that would count in one process only.
"""

from dataclasses import dataclass
from functools import cache

from prometheus_client import Counter, Histogram


@dataclass(frozen=True, slots=True)
class NotifierMetrics:
    mails_sent: Counter
    mails_failed: Counter
    mails_retried: Counter
    digest_runs: Counter
    digest_users: Counter
    digest_duration: Histogram
    reminder_lateness: Histogram
    reminders_skipped: Counter


@cache
def metrics() -> NotifierMetrics:
    return NotifierMetrics(
        mails_sent=Counter(
            "tracker_mails_sent_total", "Mails the SMTP server accepted, by kind.", ("kind",)
        ),
        mails_failed=Counter(
            "tracker_mails_failed_total",
            "Mails given up for good (refused, out of attempts, or impossible to build), by kind.",
            ("kind",),
        ),
        mails_retried=Counter(
            "tracker_mails_retried_total",
            "Send attempts that failed for a reason that may pass (the mail is tried again "
            "later), by kind.",
            ("kind",),
        ),
        digest_runs=Counter(
            "tracker_digest_runs_total",
            "Digest ticks, by outcome (completed, failed).",
            ("outcome",),
        ),
        digest_users=Counter(
            "tracker_digest_users_total", "Users whose digest a tick claimed (mailed or not)."
        ),
        digest_duration=Histogram(
            "tracker_digest_duration_seconds",
            "Seconds a completed digest tick took.",
            buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
        ),
        reminder_lateness=Histogram(
            "tracker_reminder_lateness_seconds",
            "Seconds from a reminder's instant until the notifier fired it (queued its mail).",
            buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
        ),
        reminders_skipped=Counter(
            "tracker_reminders_skipped_total",
            "Reminders not mailed, by reason (late: past NOTIFIER_REMINDER_GRACE; unwanted: "
            "address unconfirmed or reminders turned off).",
            ("reason",),
        ),
    )


def made() -> bool:
    """Whether :func:`metrics` has made the metrics already."""
    return metrics.cache_info().currsize > 0
