"""Each service killed with SIGKILL mid-work, as Kubernetes kills a pod, and started again by its supervisor:
nothing lost, nothing sent twice, the ledger adds up, no status goes backwards, every acknowledged receipt is
applied; a crash of the transmitter costs at most the calls it had in flight."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from tests.faults.provider import TwilioProvider
from tests.faults.stack import FaultStack, fault_stack
from tests.infra import eventually

pytestmark = pytest.mark.timeout(400)


async def _restarted(stack: FaultStack, service: str, old_pid: int) -> float:
    """Wait until the supervisor started `service` again; returns when (monotonic)."""

    async def new_process() -> bool:
        process = stack.services.processes[service]
        return process.pid != old_pid and process.poll() is None

    await eventually(new_process, 30, f"{service} started again", 0.05)
    return time.monotonic()


async def test_a_transmitter_killed_three_times_costs_at_most_its_calls_in_flight_and_unwritten_answers_each_time(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    in_flight, rate, flush = 20, 100, 0.1
    # A kill loses the calls in flight and the answers not yet written (at most `flush` seconds of them): both
    # are attempted without a recorded outcome. Receipts settle them later; nothing else may become ambiguous.
    lost_per_kill = in_flight + round(rate * flush)
    provider.answer_delay = (0.1, 0.3)  # a real API's latency: about 20 calls in flight at 100/s
    settings = {
        "SMS_RATE_LIMIT": str(rate),
        "TRANSMIT_CONCURRENCY": str(in_flight),
        "OUTCOMES_FLUSH_SECONDS": str(flush),
    }
    async with fault_stack(pgdata_template, tmp_path, provider, **settings) as stack:
        await stack.seed(3_150)
        sending_id = await stack.audience_sending()
        restarted_at = 0.0
        for sent in (500, 1_200, 1_900):
            await stack.wait_sent(sent, 120)
            pid = stack.services.processes["transmitter"].pid
            stack.kill("transmitter")
            restarted_at = await _restarted(stack, "transmitter", pid)
        await stack.wait_transmitted(sending_id, 120)
        final_after = time.monotonic() - restarted_at
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
    verdict.assert_truthful()
    assert verdict.ambiguous_ever <= 3 * lost_per_kill, f"{verdict.ambiguous_ever} of unknown outcome after 3 kills"
    assert set(verdict.failed) <= {"ambiguous_outcome"}, verdict.failed
    assert verdict.failed["ambiguous_outcome"] <= verdict.ambiguous_ever
    assert final_after <= 30, f"the sending was final {final_after:.1f} s after the last restart"


async def test_a_preparer_killed_mid_preparation_leaves_one_dispatch_per_member(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    members = 8_000
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="400", PREPARER_CHUNK_SIZE="250",
                           PREPARER_RANGE_SIZE="2000") as stack:  # fmt: skip
        await stack.seed(members)
        reachable = (await stack.query("SELECT count(*) AS n FROM members WHERE msisdn IS NOT NULL"))[0]["n"]
        sending_id = await stack.audience_sending()

        async def some_prepared() -> int:
            rows = await stack.query("SELECT count(*) AS n FROM dispatches WHERE sending_id = $1", sending_id)
            return int(rows[0]["n"])

        at_kill = await eventually(some_prepared, 60, "the first chunk prepared", 0.01)
        stack.kill("preparer")
        assert at_kill < reachable / 2, f"the preparer was killed after {at_kill} of {reachable}: not mid-way"
        await stack.wait_transmitted(sending_id, 180)
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
        duplicates = await stack.query(
            "SELECT member_id FROM dispatches WHERE sending_id = $1 GROUP BY member_id HAVING count(*) > 1", sending_id
        )
    verdict.assert_truthful()
    assert verdict.dispatches == reachable, "one dispatch per member with a phone number"
    assert duplicates == []
    assert verdict.failed == {}


async def test_a_scheduler_killed_as_sendings_come_due_starts_every_one_of_them(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider) as stack:
        ids = []
        for n in range(10):  # due in 4 s, each to 20 inline recipients
            recipients = [{"msisdn": f"4791{n:02d}{i:04d}"} for i in range(20)]
            sending = {"schedule": {"type": "relative", "in": "4 seconds"}, "recipients": recipients}
            message = {"name": f"due {n}", "channels": [{"type": "sms", "template": {"type": "inline", "definition": {
                "type": "plain", "content": {"body": "Hei"}}}}], "sending": sending}  # fmt: skip
            status, body = await stack.post("/v1/messages/generic", {"message": message})
            assert status == 201, body
            ids.append(body["message"]["latest_sending"]["id"])
        await asyncio.sleep(3.5)  # kill it just before they come due
        stack.kill("scheduler")
        for sending_id in ids:
            await stack.wait_transmitted(sending_id, 120)
        for sending_id in ids:
            await stack.wait_receipts_settled(sending_id, 60)
            verdict = await stack.verdict(sending_id)
            verdict.assert_truthful()
            assert verdict.dispatches == 20


async def test_delivery_receipts_killed_while_callbacks_stream_loses_no_acknowledged_receipt(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="100") as stack:
        await stack.seed(2_100)
        sending_id = await stack.audience_sending()
        for sent in (600, 1_400):
            await stack.wait_sent(sent, 60)
            stack.kill("delivery-receipts")
        await stack.wait_transmitted(sending_id, 120)
        await stack.wait_receipts_settled(sending_id, 120)
        verdict = await stack.verdict(sending_id)
    verdict.assert_truthful()
    assert provider.callbacks_failed > 0, "some callbacks met the receipts service down"
    assert verdict.receipts_acknowledged == verdict.dispatches, "the provider's retries got through in the end"
    assert verdict.ledger["delivery_pending"] == 0


async def test_an_api_killed_during_a_burst_of_posts_creates_each_requested_sending_exactly_once(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    """300 POSTs with an Idempotency-Key, 20 at a time; the api is killed after the first 100 answers, and each
    request without an answer is sent again with its key until it gets one."""
    requests = 300
    async with fault_stack(pgdata_template, tmp_path, provider) as stack:
        answered: dict[str, int] = {}
        attempts: Counter[str] = Counter()

        async def create(n: int) -> None:
            key = f"burst-{n}"
            message = {"name": key, "channels": [{"type": "sms", "template": {"type": "inline", "definition": {
                "type": "plain", "content": {"body": "Hei"}}}}], "sending": {
                "schedule": {"type": "immediate"}, "recipients": [{"msisdn": f"4792{n:06d}"}]}}  # fmt: skip
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                attempts[key] += 1
                try:
                    status, body = await stack.post("/v1/messages/generic", {"message": message}, key=key)
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError):  # no answer: the api is down
                    status, body = 0, None
                if status == 201:
                    answered[key] = body["message"]["latest_sending"]["id"]
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"{key} never answered 201 (last {status}: {body})")

        slots = asyncio.Semaphore(20)

        async def limited(n: int) -> None:
            async with slots:
                await create(n)

        burst = [asyncio.create_task(limited(n)) for n in range(requests)]
        await eventually(lambda: _at_least(answered, 100), 60, "100 answers")
        stack.kill("api")
        await asyncio.gather(*burst)
        created = await stack.query(
            "SELECT m.name, count(s.id) AS n FROM messages m JOIN sendings s ON s.message_id = m.id GROUP BY m.name"
        )
        for sending_id in list(answered.values())[-5:]:
            await stack.wait_transmitted(sending_id, 60)
    assert sum(attempts.values()) > requests, "some requests had to be sent again"
    assert len(answered) == requests
    assert {r["name"]: r["n"] for r in created} == dict.fromkeys(answered, 1), "each sending exists exactly once"


async def _at_least(items: dict[str, int], count: int) -> bool:
    return len(items) >= count
