import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from tracker_notifier.digest.models import DigestClaim
from tracker_notifier.events.models import ProcessedEvent


@dataclass(frozen=True, slots=True)
class Candidate:
    user_id: uuid.UUID
    email: str
    timezone: str
    claimed: bool
    """False when another tick claimed this user's digest for the day first."""


# The next page of users in the day's zones whose digest for the day is not claimed yet,
# locked without waiting (so concurrent ticks split the users between them instead of
# queueing behind each other), then claimed. The claim's primary key settles any race the
# lock does not cover (a tick that committed between this one's read and its insert).
CLAIM_BATCH = text("""
WITH candidates AS (
    SELECT r.user_id, r.email, r.timezone
    FROM recipients AS r
    WHERE r.digest_enabled
      AND r.email_verified
      AND r.timezone = ANY(:zones)
      AND r.user_id > :after
      AND NOT EXISTS (
          SELECT 1 FROM digest_claims AS c WHERE c.user_id = r.user_id AND c.day = :day
      )
    ORDER BY r.user_id
    LIMIT :limit
    FOR UPDATE OF r SKIP LOCKED
),
claimed AS (
    INSERT INTO digest_claims (user_id, day)
    SELECT user_id, :day FROM candidates
    ON CONFLICT DO NOTHING
    RETURNING user_id
)
SELECT candidates.user_id, candidates.email, candidates.timezone,
       claimed.user_id IS NOT NULL AS claimed
FROM candidates LEFT JOIN claimed USING (user_id)
ORDER BY candidates.user_id
""")


def claim_batch(
    session: Session, *, day: date, zones: Sequence[str], after: uuid.UUID, limit: int
) -> list[Candidate]:
    """Claim the digests of the next ``limit`` users after ``after`` (in id order)."""
    rows = session.execute(
        CLAIM_BATCH, {"day": day, "zones": list(zones), "after": after, "limit": limit}
    )
    return [
        Candidate(user_id=row.user_id, email=row.email, timezone=row.timezone, claimed=row.claimed)
        for row in rows
    ]


def forget_claims_before(session: Session, before: datetime) -> int:
    """Drop claims older than any tick can still act on (they only guard the grace period)."""
    result = session.execute(delete(DigestClaim).where(DigestClaim.claimed_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_processed_events_before(session: Session, before: datetime, *, limit: int) -> int:
    """Drop up to ``limit`` inbox entries recorded before ``before``: an event that old
    cannot come back from RabbitMQ any more (``NOTIFIER_INBOX_RETENTION``)."""
    old = (
        select(ProcessedEvent.event_id)
        .where(ProcessedEvent.processed_at < before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = delete(ProcessedEvent).where(ProcessedEvent.event_id.in_(old))
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)
