"""Delivery status stays true under a provider that behaves like the real one: receipts that come before the answer
is recorded, duplicates and stale statuses, refusals, throttling, and answers that never come in time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.faults.provider import TwilioProvider
from tests.faults.stack import fault_stack

pytestmark = pytest.mark.timeout(300)


async def test_every_receipt_of_a_sending_is_applied_when_each_comes_one_second_after_its_send(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    """2 000 sms at 100/s, each reported `sent` and `delivered` (or `undelivered`) exactly 1 s after its send,
    a tenth of the reports twice: every report the webhook acknowledged is applied."""
    provider.callback_delay = (1.0, 1.0)
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="100") as stack:
        await stack.seed(2_100)  # about 2 000 with a phone number
        sending_id = await stack.audience_sending()
        await stack.wait_transmitted(sending_id, 120)
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
    verdict.assert_truthful()
    assert verdict.dispatches > 1_900
    assert verdict.receipts_acknowledged == verdict.dispatches, "every final report acknowledged"
    assert verdict.ledger["delivery_pending"] == 0, "every acknowledged receipt applied"
    assert verdict.failed == {}


async def test_refusals_throttling_and_stalled_answers_leave_every_status_true(
    pgdata_template: Path, tmp_path: Path, provider: TwilioProvider
) -> None:
    """503 on 30 % of the calls, a while of 429 with `Retry-After`, and one call in 20 answered only after the
    client's 3 s timeout (the provider took the message): none is sent twice, every stalled one ends transmitted
    once its receipt names it, and nothing stays `ambiguous_outcome` that the provider had."""
    provider.fail_ratio = 0.3
    provider.stall_ratio = 0.05
    provider.stall_seconds = 5.0
    async with fault_stack(pgdata_template, tmp_path, provider, SMS_RATE_LIMIT="150", RETRY_BASE_SECONDS="0.05",
                           RETRY_MAX_SECONDS="1", PROVIDER_TIMEOUT_SECONDS="3") as stack:  # fmt: skip
        await stack.seed(2_100)
        sending_id = await stack.audience_sending()
        await stack.wait_sent(600, 60)
        provider.throttled_until = time.monotonic() + 2
        stack.note("the provider answers 429 for 2 s")
        await stack.wait_transmitted(sending_id, 180)
        await stack.wait_receipts_settled(sending_id, 60)
        verdict = await stack.verdict(sending_id)
    verdict.assert_truthful()
    assert provider.refused > 300, "the 503s happened"
    assert provider.throttled > 0, "the 429s happened"
    assert provider.stalled > 50, "the stalls happened"
    assert verdict.ambiguous_ever >= provider.stalled, "each stalled call was of unknown outcome at first"
    assert verdict.failed == {}, "every stalled one was settled by its receipt, every refused one sent later"
    assert verdict.ledger["delivery_pending"] == 0
