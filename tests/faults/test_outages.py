"""The broker and PostgreSQL taken away mid-sending: killed and started again empty, frozen with SIGSTOP, stopped
with `pg_ctl stop -m immediate`. Nothing acknowledged is lost, the pipeline is ready again within 30 s without a
process restarted by hand, and the sending's statuses stay true."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from tests.faults.provider import TwilioProvider
from tests.faults.stack import FaultStack, fault_stack

from devstack.infra import TansuBroker

pytestmark = pytest.mark.timeout(400)

READY_AGAIN_SECONDS = 30


async def _post_while(stack: FaultStack, stop: asyncio.Event, acknowledged: list[int]) -> int:
    """POST small sendings one after the other until `stop`; the ids of those answered 201 go to `acknowledged`.
    Returns how many were tried."""
    tried = 0
    timeout = aiohttp.ClientTimeout(total=5)
    while not stop.is_set():
        tried += 1
        message = {"name": f"during {tried}", "channels": [{"type": "sms", "template": {"type": "inline",
                   "definition": {"type": "plain", "content": {"body": "Hei"}}}}], "sending": {
                   "schedule": {"type": "immediate"}, "recipients": [{"msisdn": f"4793{tried:06d}"}]}}  # fmt: skip
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with stack.http.post(f"{stack.api_url}/v1/messages/generic", data=orjson.dumps({"message": message}),
                                       headers=stack.headers, timeout=timeout) as response:  # fmt: skip
                body = await response.json(content_type=None)
                if response.status == 201:
                    acknowledged.append(body["message"]["latest_sending"]["id"])
        await asyncio.sleep(0.1)
    return tried


async def _check_acknowledged(stack: FaultStack, acknowledged: list[int]) -> None:
    """Every sending the api acknowledged exists and is transmitted, its one dispatch truthfully."""
    rows = await stack.query("SELECT id FROM sendings WHERE id = ANY($1)", acknowledged)
    assert sorted(r["id"] for r in rows) == sorted(acknowledged), "an acknowledged sending was lost"
    for sending_id in acknowledged:
        await stack.wait_transmitted(sending_id, 60)
    for sending_id in acknowledged[-3:]:
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
        verdict.assert_truthful()
        assert verdict.dispatches == 1


async def test_a_broker_killed_and_started_again_empty_costs_no_dispatch_and_no_receipt(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="100") as stack:
        await stack.seed(3_150)
        sending_id = await stack.audience_sending()
        await stack.wait_sent(1_000, 60)
        port = stack.broker.port
        stack.note("SIGKILL the broker")
        stack.broker.kill()
        await asyncio.sleep(2)
        stack.broker = TansuBroker(port=port, log_file=tmp_path / "tansu-2.log").start()
        stack.note("the broker started again, empty")
        await stack.wait_transmitted(sending_id, 180)
        await stack.wait_receipts_settled(sending_id, 90)
        verdict = await stack.verdict(sending_id)
        ready_after = await stack.wait_pipeline_ready(READY_AGAIN_SECONDS)
        stack.note(f"pipeline ready ({ready_after:.1f} s after the sending)")
        after = await stack.audience_sending("afterwards", [{"condition_group": "member_properties", "field": "points",
                                                             "operator": "lt", "value": 500}])  # fmt: skip
        await stack.wait_transmitted(after, 120)
        await stack.wait_receipts_settled(after, 60)
        verdict_after = await stack.verdict(after)
    verdict.assert_truthful()
    assert verdict.receipts_acknowledged == verdict.dispatches
    assert verdict.ledger["delivery_pending"] == 0, "every receipt applied, those acknowledged while Kafka was gone too"
    verdict_after.assert_truthful()
    assert verdict_after.dispatches > 0
    assert verdict_after.ledger["delivery_pending"] == 0


async def test_a_broker_frozen_for_30_s_loses_no_acknowledged_write(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="100") as stack:
        await stack.seed(2_100)
        sending_id = await stack.audience_sending()
        await stack.wait_sent(500, 60)
        stop, acknowledged = asyncio.Event(), list[int]()
        posting = asyncio.create_task(_post_while(stack, stop, acknowledged))
        stack.pause("broker")
        await asyncio.sleep(30)
        stack.resume("broker")
        resumed = time.monotonic()
        await stack.wait_pipeline_ready(READY_AGAIN_SECONDS)
        ready_after = time.monotonic() - resumed
        stack.note(f"pipeline ready {ready_after:.1f} s after the broker came back")
        stop.set()
        tried = await posting
        await stack.wait_transmitted(sending_id, 120)
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
        await _check_acknowledged(stack, acknowledged)
    verdict.assert_truthful()
    assert verdict.ledger["delivery_pending"] == 0
    assert len(acknowledged) > tried / 2, "the api kept taking sendings while the broker was away"


async def _stop_immediately(stack: FaultStack) -> None:
    stack.note("pg_ctl stop -m immediate")
    stack.postgres.stop_immediately()
    await asyncio.sleep(2)
    stack.postgres.start()
    stack.note("PostgreSQL started again")


async def _freeze_20_s(stack: FaultStack) -> None:
    stack.pause("postgres")
    await asyncio.sleep(20)
    stack.resume("postgres")


@pytest.mark.parametrize("outage", [_stop_immediately, _freeze_20_s], ids=["stopped-immediately", "frozen-20-s"])
async def test_postgres_taken_away_mid_sending_loses_no_acknowledged_write(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider, outage: Callable[[FaultStack], Awaitable[None]]
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="100") as stack:
        await stack.seed(2_100)
        sending_id = await stack.audience_sending()
        stop, acknowledged = asyncio.Event(), list[int]()
        posting = asyncio.create_task(_post_while(stack, stop, acknowledged))
        await stack.wait_sent(600, 60)
        await outage(stack)
        back = time.monotonic()
        await stack.wait_pipeline_ready(READY_AGAIN_SECONDS)
        stack.note(f"pipeline ready {time.monotonic() - back:.1f} s after PostgreSQL came back")
        await asyncio.sleep(2)
        stop.set()
        await posting
        await stack.wait_transmitted(sending_id, 120)
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
        await _check_acknowledged(stack, acknowledged)
    verdict.assert_truthful()
    assert verdict.ledger["delivery_pending"] == 0
    assert set(verdict.failed) <= {"ambiguous_outcome"}, verdict.failed
