"""One-click unsubscribe from the digest (RFC 8058), without logging in.

The digest mail carries ``List-Unsubscribe: <{PUBLIC_URL}/api/user/unsubscribe?token=...>``
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``: a mail client that offers an
"Unsubscribe" button POSTs to that address. The same link in the mail's body opens a page
with a button, because a GET must not change anything (mail scanners follow links).
The token is signed with ``UNSUBSCRIBE_SECRET`` (``tracker_runtime.unsubscribe``).
"""

import uuid
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tracker_auth.deps import ContextDep
from tracker_auth.users import service
from tracker_runtime import unsubscribe as tokens
from tracker_runtime.errors import APIError
from tracker_runtime.web import SessionDep

PATH = tokens.PATH
INVALID_LINK = "This unsubscribe link is not valid; turn the digest off in the app instead"

router = APIRouter(prefix=PATH, tags=["users"])

Token = Annotated[str, Query(description="The signed token from the mail")]


def _user_id(token: str, ctx: ContextDep) -> uuid.UUID:
    user_id = tokens.verify(token, ctx.settings.unsubscribe_secret.get_secret_value())
    if user_id is None:
        raise APIError(400, INVALID_LINK)
    return user_id


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - task-tracker</title></head>\n"
        f"<body><main><h1>{escape(title)}</h1>\n{body}\n</main></body></html>\n"
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get(
    "",
    summary="The page behind the unsubscribe link: asks before turning the digest off",
    response_class=HTMLResponse,
    responses={400: {"description": "Invalid link"}},
)
async def confirm_page(token: Token, ctx: ContextDep) -> HTMLResponse:
    _user_id(token, ctx)
    return _page(
        "Stop the nightly digest?",
        f'<form method="post" action="{PATH}?token={escape(token)}">'
        "<p>You will no longer get the nightly mail about your tasks. "
        "You can turn it on again in the app at any time.</p>"
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post(
    "",
    summary="Turn the digest off (one-click unsubscribe, RFC 8058)",
    response_class=HTMLResponse,
    responses={400: {"description": "Invalid link"}},
)
async def unsubscribe(token: Token, db: SessionDep, ctx: ContextDep) -> HTMLResponse:
    user = await service.unsubscribe(db, _user_id(token, ctx))
    if user is None:
        raise APIError(404, "This account no longer exists")
    return _page(
        "You are unsubscribed",
        "<p>You will no longer get the nightly digest. "
        f'You can turn it on again in <a href="{escape(ctx.settings.public_url)}">the app</a>.</p>',
    )
