"""Who the digest goes to: confirmed recipients with the digest on, against the real
database."""

import uuid
from datetime import UTC, date, datetime

from tracker_notifier.db import Database
from tracker_notifier.digest import repository
from tracker_notifier.recipients.repository import upsert_recipient

FIRST = uuid.UUID(int=0)


def add(database: Database, *, verified: bool, digest: bool) -> uuid.UUID:
    user_id = uuid.uuid4()
    with database.transaction() as session:
        upsert_recipient(
            session,
            user_id=user_id,
            email=f"{user_id}@example.com",
            timezone="Pacific/Kiritimati",
            digest_enabled=digest,
            reminders_enabled=True,
            email_verified=verified,
            changed_at=datetime.now(UTC),
        )
    return user_id


def test_only_confirmed_recipients_with_the_digest_on_are_claimed(database: Database) -> None:
    confirmed = add(database, verified=True, digest=True)
    add(database, verified=False, digest=True)
    add(database, verified=True, digest=False)

    with database.transaction() as session:
        claimed = repository.claim_batch(
            session, day=date(2026, 12, 2), zones=["Pacific/Kiritimati"], after=FIRST, limit=10
        )

    assert [candidate.user_id for candidate in claimed] == [confirmed]
