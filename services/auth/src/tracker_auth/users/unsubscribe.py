"""One-click unsubscribe from the digest or the reminders (RFC 8058), without logging in.

The digest and reminder mails carry
``List-Unsubscribe: <{PUBLIC_URL}/api/user/unsubscribe?token=...>``
and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``: a mail client that offers an
"Unsubscribe" button POSTs to that address. The same link in the mail's body opens a page
with a button, because a GET must not change anything (mail scanners follow links).
The token is signed with ``UNSUBSCRIBE_SECRET`` (``tracker_runtime.unsubscribe``) and
names the kind of mail it turns off (digest links mailed before reminders existed name the
digest).
"""

from html import escape
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tracker_auth.deps import ContextDep
from tracker_auth.users import service
from tracker_runtime import unsubscribe as tokens
from tracker_runtime.errors import APIError
from tracker_runtime.unsubscribe import MailList, Unsubscription
from tracker_runtime.web import SessionDep

PATH = tokens.PATH
INVALID_LINK = "This unsubscribe link is not valid; turn the mail off in the app instead"

WORDING: dict[MailList, tuple[str, str]] = {
    MailList.DIGEST: ("Stop the nightly digest?", "the nightly mail about your tasks"),
    MailList.REMINDERS: ("Stop reminder mails?", "reminder mails about your tasks"),
}
"""Per kind of mail: the page's question, and what the person stops getting."""

router = APIRouter(prefix=PATH, tags=["users"])

Token = Annotated[str, Query(description="The signed token from the mail")]


def _unsubscription(token: str, ctx: ContextDep) -> Unsubscription:
    unsubscription = tokens.verify(token, ctx.settings.unsubscribe_secret.get_secret_value())
    if unsubscription is None:
        raise APIError(400, INVALID_LINK)
    return unsubscription


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
    summary="The page behind the unsubscribe link: asks before turning that mail off",
    response_class=HTMLResponse,
    responses={400: {"description": "Invalid link"}},
)
async def confirm_page(token: Token, ctx: ContextDep) -> HTMLResponse:
    title, what = WORDING[_unsubscription(token, ctx).mail_list]
    return _page(
        title,
        f'<form method="post" action="{PATH}?token={escape(token)}">'
        f"<p>You will no longer get {what}. "
        "You can turn them on again in the app at any time.</p>"
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post(
    "",
    summary="Turn the digest or the reminders off (one-click unsubscribe, RFC 8058)",
    response_class=HTMLResponse,
    responses={400: {"description": "Invalid link"}},
)
async def unsubscribe(token: Token, db: SessionDep, ctx: ContextDep) -> HTMLResponse:
    unsubscription = _unsubscription(token, ctx)
    user = await service.unsubscribe(db, unsubscription.user_id, unsubscription.mail_list)
    if user is None:
        raise APIError(404, "This account no longer exists")
    _, what = WORDING[unsubscription.mail_list]
    return _page(
        "You are unsubscribed",
        f"<p>You will no longer get {what}. "
        f'You can turn it on again in <a href="{escape(ctx.settings.public_url)}">the app</a>.</p>',
    )
