"""Summaries for the digest mails: many users, one time window, one query."""

from sqlalchemy.ext.asyncio import AsyncSession

from tracker_contracts.internal import SummariesRequest, SummariesResponse, UserSummary
from tracker_tasks.summaries import repository


async def summarize(db: AsyncSession, request: SummariesRequest) -> SummariesResponse:
    """One entry per requested user (a repeated id answered once), users without tasks
    included with zero counts; the due parts only when the request names its ``day``."""
    user_ids = list(dict.fromkeys(request.user_ids))
    rows = await repository.summaries(
        db,
        user_ids,
        start=request.start,
        end=request.end,
        titles=request.titles,
        day=request.day,
    )
    return SummariesResponse(summaries=[UserSummary.model_validate(row._mapping) for row in rows])
