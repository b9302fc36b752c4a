"""SMS through a Twilio-compatible server on 127.0.0.1, and Twilio status callbacks signed as Twilio signs them.

The transmitter (SMS_PROVIDER=twilio) and delivery-receipts run as real processes on a broker of their own.
The server below speaks the documented shapes of the Messages API; the callbacks are signed with the
official `twilio` package's RequestValidator, so our verification is checked against Twilio's own code.
"""

from __future__ import annotations

import base64
import bisect
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tests.e2e.providers import ACCOUNT_SID, AUTH_TOKEN, TwilioServer, announce, running_services, wait_transmitted
from tests.e2e.sendings import SENDER, prepared_sms_sending
from tests.infra import eventually
from twilio.request_validator import RequestValidator

from shared.events import DispatchesPrepared
from shared.kafka import publish_events

DISPATCHES = 1000


@pytest.fixture
async def services(
    database_url: str, twilio_broker: str, twilio_server: TwilioServer, db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[str]:
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "services.log") as running:
        yield running.receipts_url


# Long: one story told end to end through the real processes; split, each part would need the whole stack again
async def test_sms_go_to_twilio_well_formed_and_signed_callbacks_set_their_delivery_status(
    db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, services: str
) -> None:
    sending_id, ids = await prepared_sms_sending(db, DISPATCHES)
    broker = KafkaBroker(twilio_broker)
    await broker.start()
    try:
        events = [
            DispatchesPrepared(sending_id=sending_id, dispatch_ids=ids[i : i + 1000])
            for i in range(0, DISPATCHES, 1000)
        ]
        await publish_events(broker, events)
    finally:
        await broker.stop()

    await wait_transmitted(db, sending_id, 120, "the sending transmitted through Twilio")
    assert len(twilio_server.requests) == DISPATCHES, "exactly one request per dispatch"
    basic = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert set(twilio_server.authorizations) == {basic}
    expected = {f"+47900{i:05d}": f"Hei nr {i} æøå" for i in range(1, DISPATCHES + 1)}
    assert {r["To"]: r["Body"] for r in twilio_server.requests} == expected
    dispatches = await db.fetch(
        "SELECT id, msisdn, provider, provider_message_id, transmission_status FROM dispatches "
        "WHERE sending_id = $1 ORDER BY id",
        sending_id,
    )
    assert {(d["provider"], d["transmission_status"]) for d in dispatches} == {("twilio", "transmitted")}
    # Our dispatch id rides on each message's StatusCallback, so its callbacks name it.
    callback_of = {f"+{d['msisdn']}": f"{services}/webhooks/twilio?d={d['id']}" for d in dispatches}
    assert all(r["From"] == SENDER and r["StatusCallback"] == callback_of[r["To"]] for r in twilio_server.requests)
    assert all(set(r) == {"To", "From", "Body", "StatusCallback"} for r in twilio_server.requests)

    validator = RequestValidator(AUTH_TOKEN)
    final = {}
    async with aiohttp.ClientSession() as http:
        for index, d in enumerate(dispatches):
            callback = callback_of[f"+{d['msisdn']}"]
            status = "delivered" if index % 2 == 0 else "undelivered"
            params = {"MessageSid": d["provider_message_id"], "MessageStatus": status, "AccountSid": ACCOUNT_SID,
                      "To": f"+{d['msisdn']}", "From": SENDER, "ApiVersion": "2010-04-01"}  # fmt: skip
            signature = validator.compute_signature(callback, params)
            if index < 3:  # another account's callback, validly signed: dropped (counted), nothing changes
                foreign = {**params, "AccountSid": "AC" + "ff" * 16, "MessageStatus": "failed"}
                foreign_signature = validator.compute_signature(callback, foreign)
                async with http.post(callback, data=foreign, headers={"X-Twilio-Signature": foreign_signature}) as r:
                    assert r.status == 204
            if index < 5:  # one character changed, in a value or in the signature: refused, nothing changes
                forged = {**params, "MessageStatus": "delivered" if status == "undelivered" else "undelivere"}
                async with http.post(callback, data=forged, headers={"X-Twilio-Signature": signature}) as response:
                    assert response.status == 401
                bad_signature = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
                async with http.post(callback, data=params, headers={"X-Twilio-Signature": bad_signature}) as response:
                    assert response.status == 401
                async with http.post(callback, data=params) as response:
                    assert response.status == 401
            async with http.post(callback, data=params, headers={"X-Twilio-Signature": signature}) as response:
                assert response.status == 204, await response.text()
            final[d["id"]] = "delivered" if status == "delivered" else "failed"

    async def all_applied() -> bool:
        rows = await db.fetch("SELECT id, delivery_status FROM dispatches WHERE sending_id = $1", sending_id)
        return {r["id"]: r["delivery_status"] for r in rows} == final

    await eventually(all_applied, 60, "every status callback applied")
    foreign = await db.fetchval("SELECT count FROM receipt_counts WHERE provider = 'twilio' AND outcome = 'foreign'")
    assert foreign == 3
    raw = await db.fetch("SELECT DISTINCT external_delivery_status FROM dispatches WHERE sending_id = $1", sending_id)
    assert {r["external_delivery_status"] for r in raw} == {"delivered", "undelivered"}


RATE_LIMIT = 150


async def test_an_unreliable_twilio_gets_every_sms_once_and_never_more_than_the_rate_limit(
    database_url: str, db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, tmp_path: Path
) -> None:
    """503 for 30 % of the requests, a while of 429 with Retry-After: every dispatch transmitted, none twice,
    and no second holds more requests than SMS_RATE_LIMIT."""
    twilio_server.fail_ratio = 0.3
    extra = {"SMS_RATE_LIMIT": str(RATE_LIMIT), "RETRY_BASE_SECONDS": "0.05", "RETRY_MAX_SECONDS": "1"}
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log", **extra):
        sending_id, ids = await prepared_sms_sending(db, DISPATCHES)
        await announce(twilio_broker, sending_id, ids)
        await eventually(lambda: _count_at_least(twilio_server, 300), 60, "300 sms accepted")
        twilio_server.throttled_until = time.monotonic() + 2  # the provider says: slow down, for 2 s

        await wait_transmitted(db, sending_id, 120, "the sending transmitted despite the faults")
    accepted = Counter(r["To"] for r in twilio_server.requests)
    assert len(accepted) == DISPATCHES, "every sms accepted"
    assert set(accepted.values()) == {1}, "no sms accepted twice"
    assert twilio_server.refused > 300, "the 503s happened"
    assert twilio_server.throttled > 0, "the 429s happened"
    statuses = await db.fetch(
        "SELECT transmission_status, count(*) FROM dispatches WHERE sending_id = $1 GROUP BY 1", sending_id
    )
    assert {r["transmission_status"]: r["count"] for r in statuses} == {"transmitted": DISPATCHES}
    arrivals = sorted(twilio_server.arrivals)
    busiest = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    assert busiest <= RATE_LIMIT, f"{busiest} requests within one second"


async def _count_at_least(server: TwilioServer, count: int) -> bool:
    return len(server.requests) >= count


async def test_a_higher_priority_sending_takes_the_shared_rate_limit_first(
    database_url: str, db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, tmp_path: Path
) -> None:
    """A low-priority sending is under way at the sms rate limit when a high-priority one arrives: the
    high one's requests take every slot until it is done, and the low one then carries on."""
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log",
                                SMS_RATE_LIMIT="200", TRANSMITTER_WORKERS="4"):  # fmt: skip
        low, low_ids = await prepared_sms_sending(db, 3_000, slug="low", priority=1, prefix="47901")
        high, high_ids = await prepared_sms_sending(db, 500, slug="high", priority=10, prefix="47902")
        await announce(twilio_broker, low, low_ids, partition=0)
        await eventually(lambda: _count_at_least(twilio_server, 200), 60, "the low-priority sending under way")
        await announce(twilio_broker, high, high_ids, partition=1)  # another partition: another worker
        announced_at = len(twilio_server.requests)

        async def both_transmitted() -> bool:
            count = await db.fetchval(
                "SELECT count(*) FROM sendings WHERE id = ANY($1) AND status = 'transmitted'", [low, high]
            )
            return bool(count == 2)

        await eventually(both_transmitted, 120, "both sendings transmitted")
    order = [r["To"][:6] for r in twilio_server.requests]
    assert order.count("+47902") == 500
    assert order.count("+47901") == 3_000
    first, last = order.index("+47902"), len(order) - 1 - order[::-1].index("+47902")
    waited = order[announced_at:first].count("+47901")
    # Not behind the low sending's batch in hand (1 000 at 200/s): within the consumer's fetch delay.
    assert waited <= 150, f"{waited} low-priority requests went out before the first high-priority one"
    low_meanwhile = order[first : last + 1].count("+47901")
    assert low_meanwhile <= 10, f"{low_meanwhile} low-priority requests went out among the high-priority ones"
    assert "+47901" in order[last + 1 :], "the low-priority sending went on afterwards"


async def test_answers_that_come_in_bursts_never_make_requests_go_out_in_bursts(
    database_url: str, db: asyncpg.Pool, twilio_broker: str, twilio_server: TwilioServer, tmp_path: Path
) -> None:
    """A provider that holds its answers and sends them together every 3 s frees all 50 call permits at
    once; the requests waiting for permits must still go out no faster than the rate limit (30/s)."""
    twilio_server.answer_every = 3.0
    rate, count = 30, 200
    async with running_services(database_url, twilio_broker, twilio_server, db, tmp_path / "log",
                                SMS_RATE_LIMIT=str(rate), TRANSMIT_CONCURRENCY="50"):  # fmt: skip
        sending_id, ids = await prepared_sms_sending(db, count)
        await announce(twilio_broker, sending_id, ids)

        await wait_transmitted(db, sending_id, 120, "the sending transmitted")
    assert len(twilio_server.requests) == count
    arrivals = sorted(twilio_server.arrivals)
    busiest = max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
    assert busiest <= rate, f"{busiest} requests within one second"
