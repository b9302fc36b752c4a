"""A Twilio-compatible provider that behaves like the real one, with its own log of what it took.

The Messages API answers after a realistic delay (`answer_delay`), and for every message it took it posts status
callbacks signed the way Twilio signs them (the official library's RequestValidator): `sent`, then a final one,
each `callback_delay` seconds after the send (0.5 to 2 s by default, so a callback can beat the transmitter's record
of the answer, and a `sent` can arrive after its `delivered`), a share of them twice, and each retried while the
webhook answers 5xx or cannot be reached. It can refuse with 503 or 429 + `Retry-After`, and stall its answer past
the client's timeout after it took the message.

Its log is the verdict's other half: which dispatch it took (our id rides on the callback URL), with which sid,
and which final status each message's webhook acknowledged with a 2xx.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from devstack.processes import free_port

ACCOUNT_SID = "AC" + "c3" * 16
AUTH_TOKEN = "faults-auth-token"


@dataclass
class Taken:
    """One message the provider took."""

    sid: str
    dispatch_id: int
    to: str
    final: str  # the final status it will report: delivered or undelivered
    acknowledged: set[str] = field(default_factory=set)  # statuses whose callback got a 2xx


@dataclass
class TwilioProvider:
    seed: int = 1
    answer_delay: tuple[float, float] = (0.005, 0.02)
    callback_delay: tuple[float, float] = (0.5, 2.0)
    duplicate_ratio: float = 0.1  # callbacks sent twice
    undelivered_ratio: float = 0.03
    fail_ratio: float = 0.0  # 503 before taking the message
    throttled_until: float = 0.0  # 429 + Retry-After before taking the message
    stall_ratio: float = 0.0  # take the message, then answer only after `stall_seconds`
    stall_seconds: float = 0.0
    callback_give_up_seconds: float = 300.0  # a callback is retried this long
    url: str = ""
    taken: dict[str, Taken] = field(default_factory=dict)  # by sid
    refused: int = 0
    throttled: int = 0
    stalled: int = 0
    callbacks_posted: int = 0
    callbacks_failed: int = 0
    rng: random.Random = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def validator(self) -> RequestValidator:
        return RequestValidator(AUTH_TOKEN)

    async def create_message(self, request: web.Request) -> web.Response:
        """Take the message as soon as the request is read (a call cut off afterwards still sent it), then
        answer after the API's latency, or much later when it stalls."""
        if time.monotonic() < self.throttled_until:
            self.throttled += 1
            error = {"code": 20429, "message": "Too Many Requests", "status": 429}
            return web.json_response(error, status=429, headers={"Retry-After": "1"})
        if self.rng.random() < self.fail_ratio:
            self.refused += 1
            return web.json_response({"code": 20500, "message": "Internal error", "status": 503}, status=503)
        form = dict(await request.post())
        callback = str(form["StatusCallback"])
        dispatch_id = int(parse_qs(urlsplit(callback).query)["d"][0])
        sid = "SM" + uuid.uuid4().hex
        final = "undelivered" if self.rng.random() < self.undelivered_ratio else "delivered"
        self.taken[sid] = Taken(sid, dispatch_id, str(form["To"]), final)
        for status in ("sent", final):
            for _ in range(2 if self.rng.random() < self.duplicate_ratio else 1):
                self._later(self.rng.uniform(*self.callback_delay), callback, sid, str(form["To"]), status)
        delay = self.rng.uniform(*self.answer_delay)
        if self.rng.random() < self.stall_ratio:
            self.stalled += 1
            delay = self.stall_seconds  # the client gives up before: it never learns the sid
        await asyncio.sleep(delay)
        body = {"sid": sid, "status": "queued", "to": form["To"], "account_sid": ACCOUNT_SID}
        return web.json_response(body, status=201)

    def _later(self, delay: float, url: str, sid: str, to: str, status: str) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await self._callback(url, sid, to, status)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _callback(self, url: str, sid: str, to: str, status: str) -> None:
        """Post one status callback, again and again while it is not answered 2xx (up to the give-up time)."""
        assert self._session is not None
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, "To": to,
                  "From": "Faults", "ApiVersion": "2010-04-01"}  # fmt: skip
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        give_up = time.monotonic() + self.callback_give_up_seconds
        delay = 0.5
        while True:
            self.callbacks_posted += 1
            try:
                async with self._session.post(url, data=params, headers=headers) as response:
                    if response.status < 300:
                        self.taken[sid].acknowledged.add(status)
                        return
                    retry = response.status >= 500
            except (aiohttp.ClientError, TimeoutError):
                retry = True
            self.callbacks_failed += 1
            if not retry or time.monotonic() > give_up:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def dispatches_taken(self) -> list[int]:
        """Our dispatch ids of every message taken, one entry per take (a dispatch twice here was sent twice)."""
        return [t.dispatch_id for t in self.taken.values()]

    async def callbacks_done(self) -> bool:
        return not self._tasks


async def serve(provider: TwilioProvider) -> AsyncIterator[TwilioProvider]:
    """Serve the provider on 127.0.0.1 for as long as the generator lives; its callbacks are cancelled after."""
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", provider.create_message)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    provider.url = f"http://127.0.0.1:{port}"
    provider._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    try:
        yield provider
    finally:
        for task in list(provider._tasks):
            task.cancel()
        await asyncio.gather(*provider._tasks, return_exceptions=True)
        await provider._session.close()
        await runner.cleanup()
