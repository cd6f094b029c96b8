"""The internal summaries API for the notifier's digests. Not under ``/api``: the gateway
never routes it, and it answers only to service tokens carrying the summaries scope."""

from typing import Annotated

from fastapi import APIRouter, Depends

from tracker_contracts.internal import SUMMARIES_PATH, SummariesRequest, SummariesResponse
from tracker_runtime.body import json_or_form, json_or_form_openapi
from tracker_runtime.web import SessionDep
from tracker_tasks.deps import SummariesCaller
from tracker_tasks.summaries import service

router = APIRouter(tags=["internal"])

MAX_BODY_BYTES = 64 * 1024
"""Room for the largest batch (500 ids) with plenty to spare."""


@router.post(
    SUMMARIES_PATH,
    summary="Task summaries of many users for one time window",
    openapi_extra=json_or_form_openapi(SummariesRequest),
    responses={
        401: {"description": "No service token (a user's token is not one)"},
        403: {"description": "The service token lacks the tasks:summaries scope"},
        422: {"description": "Invalid input"},
    },
)
async def summaries(
    _caller: SummariesCaller,
    request: Annotated[
        SummariesRequest, Depends(json_or_form(SummariesRequest, max_bytes=MAX_BODY_BYTES))
    ],
    db: SessionDep,
) -> SummariesResponse:
    return await service.summarize(db, request)
