"""`messaging-admin demo` (`make demo`): the platform shown end to end on a running `make up`.

It makes sure the LC `demo` exists, creates an API client for it, imports the sample members, then — through
the public HTTP API, as a client would — stores an audience (the members in Oslo) and creates a marketing
message whose first sending goes to it at once. It follows the sending until it is final and prints the
commands to look at it. Run again, it imports the same members (an upsert) and sends a new message.
"""

import asyncio
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from rich.console import Console

from api.admin import repository
from api.admin.db import Target, connection
from api.admin.errors import AdminError, ApiError
from api.admin.follow import follow
from api.admin.importer import import_members
from api.admin.tenants import create_client, create_lc
from api.permits import ALL_PERMITS
from shared.domain import SendingId

DEFAULT_LC = "demo"
DEFAULT_MEMBERS = Path("examples/members.jsonl")
SERVICE = "campaigns"  # marketing: members without the channel's consent are suppressed, and counted so
FOLLOW_TIMEOUT_SECONDS = 120
HTTP_TIMEOUT_SECONDS = 30

SMS = "Hei {{ first_name }}! Members in {{ city }} get 20% off this weekend."
EMAIL = {"subject": "{{ first_name }}, this weekend in {{ city }}",
         "body": "<p>Hei {{ first_name }},</p><p>members in {{ city }} get 20% off this weekend.</p>"}  # fmt: skip
OSLO = [{"condition_group": "member_properties", "field": "city", "operator": "match", "value": "Oslo"}]


@dataclass(frozen=True)
class DemoSending:
    """What the demo created, to look at afterwards."""

    api_url: str
    lc_slug: str
    token: str
    sending_id: int


@dataclass(frozen=True)
class Client:
    """The public HTTP API as an API client of one LC calls it."""

    api_url: str
    headers: dict[str, str]

    async def post(self, path: str, body: Any) -> Any:
        """POST `body` as JSON; the parsed answer, or ApiError with the status and the API's error."""
        return await asyncio.to_thread(self._post, path, orjson.dumps(body))

    def _post(self, path: str, body: bytes) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the URL of our own stack
            self.api_url + path, data=body, method="POST", headers={**self.headers, "Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as answer:  # noqa: S310
                return orjson.loads(answer.read())
        except urllib.error.HTTPError as error:
            detail = " ".join(error.read().decode(errors="replace").split())[:300]
            raise ApiError(f"POST {self.api_url}{path} answered {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"cannot reach the API at {self.api_url} ({reason}): is make up running?") from None


def headers_of(lc_slug: str, token: str) -> dict[str, str]:
    return {"X-User-Agent": "messaging-admin demo", "X-Product-Name": "demo", "X-Loyalty-Club-Slug": lc_slug,
            "X-Client-Authorization": token}  # fmt: skip


async def ensure_lc(url: str, slug: str) -> bool:
    """Create the demo LC unless it exists; True when it was created now."""
    async with connection(url) as conn:
        if await repository.lc_exists(conn, slug):
            return False
    await create_lc(url, slug, "Demo Club")
    return True


async def run_demo(target: Target, lc_slug: str, members: Path, out: TextIO) -> DemoSending:
    """The demo on the stack of `target`; returns the sending it made once that sending is final."""
    if target.api_url is None:
        raise AdminError("the demo needs the API of a running make up: start `make up`, or give --api-url")
    if not members.is_file():  # noqa: ASYNC240 - a command-line run: nothing else shares this event loop
        raise AdminError(f"no members file {members}: run the demo from the checkout's root, or give --members FILE")
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    created = await ensure_lc(target.url, lc_slug)
    out.write(f"loyalty club {lc_slug}: {'created' if created else 'exists already, used again'}\n")
    token = await create_client(target.url, [lc_slug], f"demo-{now:%Y%m%d-%H%M%S}", list(ALL_PERMITS))
    summary = await import_members(target.url, members, lc_slug, progress=None)
    out.write(f"imported {summary.imported} members from {members} ({summary.rejected} rejected)\n")
    client = Client(target.api_url, headers_of(lc_slug, token))
    audience = await client.post("/v1/audiences", {"audience": {"name": f"Members in Oslo ({stamp})",
                                                                 "conditions": OSLO}})  # fmt: skip
    message = await client.post(f"/v1/messages/{SERVICE}", {"message": {
        "name": f"Weekend offer ({stamp})",
        "channels": [
            {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": SMS}}}},
            {"type": "email", "template": {"type": "inline", "definition": {"type": "email", "content": EMAIL}}},
        ],
        "sending": {"schedule": {"type": "immediate"},
                    "audience": {"type": "reference", "id": audience["audience"]["id"]}},
    }})  # fmt: skip
    sending_id = message["message"]["latest_sending"]["id"]
    out.write(f"audience {audience['audience']['id']} (members in Oslo), message {message['message']['id']}, "
              f"sending {sending_id} to it through {target.api_url}\n")  # fmt: skip
    out.flush()
    await follow_until_final(target.url, sending_id)
    return DemoSending(target.api_url, lc_slug, token, sending_id)


async def follow_until_final(url: str, sending_id: int) -> None:
    try:
        await asyncio.wait_for(follow(url, SendingId(sending_id), 0.2, Console()), FOLLOW_TIMEOUT_SECONDS)
    except TimeoutError:
        raise AdminError(
            f"sending {sending_id} is not final after {FOLLOW_TIMEOUT_SECONDS} s: see the logs of make up"
        ) from None


def print_next_steps(demo: DemoSending, out: TextIO) -> None:
    """The commands to look at what the demo made (the token is the demo client's)."""
    admin = os.path.relpath(Path(sys.executable).parent / "messaging-admin")
    base = f"{demo.api_url}/v1/messages/{SERVICE}/sendings/{demo.sending_id}"
    headers = " ".join(f'-H "{name}: {value}"' for name, value in headers_of(demo.lc_slug, demo.token).items())
    out.write(
        f"\ntoken of the demo's API client: {demo.token}\n"
        "Look at it:\n"
        f"  {admin} sending {demo.sending_id} --follow\n"
        f"  H=({headers})\n"
        f'  curl -s "${{H[@]}}" {base}\n'
        f'  curl -s "${{H[@]}}" "{base}/dispatches?per_page=5"\n'
        f"  {admin} list-clients --lc {demo.lc_slug}\n"
    )
