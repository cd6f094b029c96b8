"""Summaries for the digest mails: many users, one time window, one query."""

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts.internal import SummariesRequest, SummariesResponse, UserSummary
from tracker_tasks.summaries import repository


async def summarize(db: AsyncSession, request: SummariesRequest) -> SummariesResponse:
    """One entry per requested user (a repeated id answered once), users without tasks
    included with zero counts."""
    user_ids = list(dict.fromkeys(request.user_ids))
    rows = await repository.summaries(
        db, user_ids, start=request.start, end=request.end, titles=request.titles
    )
    return SummariesResponse(
        summaries=[
            UserSummary(
                user_id=user_id,
                open_count=open_count,
                open_titles=open_titles,
                completed_count=completed_count,
                completed_titles=completed_titles,
            )
            for user_id, open_count, open_titles, completed_count, completed_titles in rows
        ]
    )
