"""The unsubscribe link of marketing email (`List-Unsubscribe`), served here because this is the service the
internet reaches without client credentials (see docs/decisions/unsubscribe.md).

`GET /unsubscribe?t=<token>` shows a page with one button and changes nothing (mail scanners open links);
`POST` with `List-Unsubscribe=One-Click` (RFC 8058: what the mailbox provider sends, and what the button sends)
withdraws the member's marketing consent for the channel at once. A token that was not signed with
`UNSUBSCRIBE_SECRET` answers 400 and changes nothing.
"""

import html
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from delivery_receipts import repository
from delivery_receipts.service import unsubscribe
from delivery_receipts.state import runtime_of, settings_of
from shared.domain import ChannelType
from shared.unsubscribe import Unsubscription, verify_unsubscribe

router = APIRouter()

ONE_CLICK = ("List-Unsubscribe", "One-Click")
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
CHANNEL_NAMES: dict[str, str] = {
    ChannelType.EMAIL: "email",
    ChannelType.SMS: "text messages",
    ChannelType.PUSH: "push notifications",
}


def _page(status: int, title: str, text: str, form: bool = False) -> HTMLResponse:
    button = (
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        if form
        else ""
    )
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{button}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _invalid() -> HTMLResponse:
    return _page(400, "Link not valid", "This unsubscribe link is not valid. Use the link from the email itself.")


def _target(request: Request) -> Unsubscription | None:
    return verify_unsubscribe(settings_of(request).unsubscribe_secret, request.query_params.get("t", ""))


def is_one_click(content_type: str, body: bytes) -> bool:
    """Whether the body is `List-Unsubscribe=One-Click`, form-urlencoded or multipart (RFC 8058 §3.1 allows both)."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields = [(part.get_param("name", header="content-disposition"), part.get_content())
                  for part in message.iter_parts()] if message.is_multipart() else []  # fmt: skip
        return any(name == ONE_CLICK[0] and str(value).strip() == ONE_CLICK[1] for name, value in fields)
    try:
        return ONE_CLICK in urllib.parse.parse_qsl(body.decode())
    except (UnicodeDecodeError, ValueError):
        return False


@router.get("/unsubscribe")
async def unsubscribe_page(request: Request) -> HTMLResponse:
    """The page of the link: what it will do, and the button that does it. Changes nothing."""
    target = _target(request)
    if target is None:
        return _invalid()
    async with runtime_of(request).pool.acquire() as conn:
        club = await repository.get_loyalty_club_name(conn, target.loyalty_club_id) or "this club"
    what = f"Stop marketing {CHANNEL_NAMES[target.channel]} from {club}?"
    return _page(200, "Unsubscribe", what, form=True)


@router.post("/unsubscribe")
async def unsubscribe_one_click(request: Request) -> HTMLResponse:
    """One-click unsubscribe (RFC 8058): the member's marketing consent for the channel is withdrawn."""
    target = _target(request)
    if target is None:
        return _invalid()
    if not is_one_click(request.headers.get("content-type", ""), await request.body()):
        return _page(400, "Not unsubscribed", "The request did not ask to unsubscribe (List-Unsubscribe=One-Click).")
    await unsubscribe(runtime_of(request).pool, target)
    return _page(200, "Unsubscribed", f"You will get no more marketing {CHANNEL_NAMES[target.channel]} from us.")
