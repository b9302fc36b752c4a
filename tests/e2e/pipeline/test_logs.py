"""The services' JSON log lines carry the ids of what they are about: the sending, the LC, the range."""

from __future__ import annotations

from typing import Any

import orjson
from tests.e2e.conftest import Stack
from tests.e2e.sendings import post_sending, wait_for_delivery
from tests.infra import eventually

RECIPIENTS = [{"msisdn": f"47900008{i:02d}", "properties": {"name": f"R{i}"}} for i in range(3)]


def json_lines(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    """(service, record) of every JSON line the services logged so far."""
    found = []
    for line in stack.log_path.read_text().splitlines():
        service, _, rest = line.partition(" | ")
        if rest.startswith("{"):
            found.append((service.strip(), orjson.loads(rest)))
    return found


async def test_log_lines_of_a_sending_carry_its_ids_and_its_lc(stack: Stack) -> None:
    headers = stack.new_tenant("logs")
    lc_id = await stack.pool.fetchval("SELECT id FROM loyalty_clubs WHERE slug = 'logs'")
    sending_id = await post_sending(stack, headers, {"schedule": {"type": "immediate"}, "recipients": RECIPIENTS})
    await wait_for_delivery(stack, headers, sending_id, 30)

    def lines_of(event: str) -> list[tuple[str, dict[str, Any]]]:
        return [(s, r) for s, r in json_lines(stack) if r.get("event") == event and r.get("sending_id") == sending_id]

    async def logged() -> bool | None:
        return (bool(lines_of("batch_transmitted")) and bool(lines_of("sending_prepared"))) or None

    await eventually(logged, 10, "the preparer and the transmitter logged the sending")
    for event, service in (("sending_prepared", "preparer"), ("batch_transmitted", "transmitter")):
        for logged_by, record in lines_of(event):
            assert logged_by == service
            assert record["lc_id"] == lc_id, record  # bound from the sending, not passed by the caller
            assert record["service"] == service
    # Lines of other messages handled later do not inherit this sending's LC.
    others = [r for _, r in json_lines(stack) if r.get("sending_id") not in (None, sending_id)]
    assert all(r.get("lc_id") != lc_id for r in others)
