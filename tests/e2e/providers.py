"""Provider servers of the tests (speaking each provider's documented API on 127.0.0.1) and the two services
that talk to providers, started with a given environment."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.kafka import KafkaBroker
from tests.infra import broker_for_tests, eventually
from tests.infra_choice import Infra

from devstack.processes import free_port
from devstack.services import ServiceProcesses
from shared.events import DispatchesPrepared
from shared.events.topics import ensure_topics
from shared.kafka import publish_events

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "twilio-test-auth-token"


@dataclass
class TwilioServer:
    """The Messages API as documented: form POST, Basic auth, 201 with the message's `sid`.

    Optionally unreliable: `fail_ratio` of the requests get 503, and until `throttled_until` every request
    gets 429 with `Retry-After: 1`. With `answer_every`, answers are held and sent together at the next
    multiple of that many seconds, as a stalling provider does. `arrivals` records when each request came,
    accepted or not.
    """

    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    fail_ratio: float = 0.0
    throttled_until: float = 0.0
    refused: int = 0
    throttled: int = 0
    answer_every: float | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(5))

    async def create_message(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        self.authorizations.append(request.headers.get("Authorization", ""))
        if request.match_info["sid"] != ACCOUNT_SID:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        if time.monotonic() < self.throttled_until:
            self.throttled += 1
            error = {"code": 20429, "message": "Too Many Requests", "status": 429}
            return web.json_response(error, status=429, headers={"Retry-After": "1"})
        if self.rng.random() < self.fail_ratio:
            self.refused += 1
            return web.json_response({"code": 20500, "message": "Internal error", "status": 503}, status=503)
        form = dict(await request.post())
        self.requests.append({k: str(v) for k, v in form.items()})
        sid = "SM" + uuid.uuid4().hex
        if self.answer_every:
            await asyncio.sleep(self.answer_every - time.monotonic() % self.answer_every)
        return web.json_response({"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")},
                                 status=201)  # fmt: skip


@pytest.fixture(scope="module")
def twilio_broker(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> Iterator[str]:
    yield from broker_for_tests(tmp_path_factory, "twilio-kafka", infra)


@pytest.fixture
async def twilio_server() -> AsyncIterator[TwilioServer]:
    server = TwilioServer()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", server.create_message)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass
class Running:
    """The provider-facing services of a test: delivery-receipts' URL, and the processes to stop or restart."""

    receipts_url: str
    processes: ServiceProcesses


@contextlib.asynccontextmanager
async def running_services(
    database_url: str, broker: str, server: TwilioServer, db: asyncpg.Pool, log_path: Path, **extra: str
) -> AsyncIterator[Running]:
    """transmitter and delivery-receipts speaking Twilio, with `extra` environment. Stopped also on failure."""
    await ensure_topics(broker, partitions=2)
    receipts_port = free_port()
    receipts_url = f"http://127.0.0.1:{receipts_port}"
    env = {
        "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": broker, "LOG_JSON": "true",
        "RECEIPTS_PORT": str(receipts_port), "RECEIPTS_PUBLIC_URL": receipts_url, "SMS_PROVIDER": "twilio",
        "TWILIO_BASE_URL": server.url, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, **extra,
    }  # fmt: skip
    with log_path.open("a", buffering=1) as log:
        processes = ServiceProcesses(env, write=log.write, names=("transmitter", "delivery-receipts"))
        try:
            processes.start_all()

            async def ready() -> bool:
                assert not processes.exited(), f"a service exited: see {log_path}"
                rows = await db.fetch("SELECT DISTINCT service FROM service_heartbeats WHERE ready")
                return {r["service"] for r in rows} == {"transmitter", "delivery-receipts"}

            await eventually(ready, 90, f"transmitter and delivery-receipts ready (log: {log_path})", interval=0.2)
            yield Running(receipts_url, processes)
        finally:
            processes.stop_all()


@dataclass
class SendGridServer:
    """The v3 Mail Send API as documented: JSON POST with a bearer key, 202 with `X-Message-Id`.

    With `throttle_once`, the first request gets 429 with `Retry-After: throttle_once()` (the header made when
    the request comes); `arrivals` records when each request came (wall clock), accepted or not.
    """

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    message_ids: dict[str, str] = field(default_factory=dict)  # dispatch id -> X-Message-Id
    throttle_once: Callable[[], str] | None = None
    throttled: list[str] = field(default_factory=list)  # the Retry-After of each 429 sent
    arrivals: list[float] = field(default_factory=list)

    async def send(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.time())
        if self.throttle_once is not None and not self.throttled:
            self.throttled.append(self.throttle_once())
            error = {"errors": [{"message": "too many requests", "field": None, "help": None}]}
            return web.json_response(error, status=429, headers={"Retry-After": self.throttled[-1]})
        self.authorizations.append(request.headers.get("Authorization", ""))
        body = await request.json()
        self.requests.append(body)
        message_id = uuid.uuid4().hex[:22]
        self.message_ids[body["personalizations"][0]["custom_args"]["dispatch_id"]] = message_id
        return web.Response(status=202, headers={"X-Message-Id": message_id})


@pytest.fixture
async def sendgrid_server() -> AsyncIterator[SendGridServer]:
    server = SendGridServer()
    app = web.Application()
    app.router.add_post("/v3/mail/send", server.send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def wait_transmitted(db: asyncpg.Pool, sending_id: int, within: float, what: str) -> None:
    """Wait until the sending is `transmitted` (fails after `within` seconds, naming `what`)."""

    async def transmitted() -> bool:
        return bool(await db.fetchval("SELECT status = 'transmitted' FROM sendings WHERE id = $1", sending_id))

    await eventually(transmitted, within, what)


async def announce(broker_url: str, sending_id: int, ids: list[int], partition: int | None = None) -> None:
    """Announce prepared dispatches to the transmitter, in events of 1 000 ids, as the preparer does (on the
    partition of the sending's key, or on `partition`)."""
    broker = KafkaBroker(broker_url)
    await broker.start()
    try:
        batches = [ids[i : i + 1000] for i in range(0, len(ids), 1000)]
        events = [DispatchesPrepared(sending_id=sending_id, dispatch_ids=batch) for batch in batches]
        if partition is None:
            await publish_events(broker, events)
        for event in events if partition is not None else []:
            await broker.publish(event.to_bytes(), topic=event.topic, partition=partition)
    finally:
        await broker.stop()


@dataclass
class FcmServer:
    """FCM HTTP v1 and Google's OAuth token endpoint, as documented. The token endpoint checks the signed
    JWT assertion against the service account's public key; messages:send checks the bearer token."""

    public_key: Any = None
    url: str = ""
    access_token: str = "ya29.test-access-token"
    unregistered: set[str] = field(default_factory=set)
    token_requests: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)
    bearers: list[str] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        claims = jwt.decode(str(form["assertion"]), self.public_key, algorithms=["RS256"], audience=f"{self.url}/token")
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
        return web.json_response({"access_token": self.access_token, "expires_in": 3599, "token_type": "Bearer"})

    async def send(self, request: web.Request) -> web.Response:
        self.bearers.append(request.headers.get("Authorization", ""))
        body = await request.json()
        self.pushes.append(body["message"])
        if body["message"]["token"] in self.unregistered:
            details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]
            error = {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
                     "details": details}  # fmt: skip
            return web.json_response({"error": error}, status=404)
        return web.json_response({"name": f"projects/{request.match_info['project']}/messages/{uuid.uuid4().hex}"})


@pytest.fixture
async def fcm_server() -> AsyncIterator[FcmServer]:
    server = FcmServer()
    app = web.Application()
    app.router.add_post("/token", server.token)
    app.router.add_post("/v1/projects/{project}/messages:send", server.send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


REFUSED = "nobody@example.com"


class Inbox:
    """Collects what the server accepted; refuses one address the way a real relay does."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, bytes]] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append((envelope, bytes(envelope.original_content or b"")))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
