"""A sending being prepared shows its progress: the ledger counts what its ranges have prepared so far."""

from __future__ import annotations

from tests.integration.api.conftest import Api

SMS = {"type": "sms", "template": {"type": "inline", "definition": {"type": "plain", "content": {"body": "Hi"}}}}
SENDING = {"schedule": {"type": "relative", "in": "1 day"}, "recipients": [{"msisdn": "4740769126"}]}
MESSAGE = {"message": {"name": "M", "channels": [SMS], "sending": SENDING}}


async def test_the_ledger_of_a_preparing_sending_adds_up_what_its_ranges_counted_so_far(api: Api) -> None:
    headers = await api.tenant()
    code, created = await api.call("POST", "/v1/messages/generic", headers, MESSAGE)
    assert code == 201, created
    sending_id = created["message"]["latest_sending"]["id"]
    lc_id = await api.pool.fetchval("SELECT loyalty_club_id FROM sendings WHERE id = $1", sending_id)
    await api.pool.execute("UPDATE sendings SET status = 'preparing' WHERE id = $1", sending_id)
    await api.pool.executemany(
        "INSERT INTO preparation_ranges (sending_id, range_no, lo, hi, cursor, dispatches, unreachable, suppressed) "
        "VALUES ($1, $2, 0, 10, 5, $3, $4, $5)",
        [(sending_id, 1, 4, 2, 3), (sending_id, 2, 0, 1, 1)],
    )
    await api.pool.executemany(
        "INSERT INTO dispatches (sending_id, loyalty_club_id, recipient_key, type, member_id) "
        "VALUES ($1, $2, $3, 'sms', $4)",
        [(sending_id, lc_id, f"member:{i}", i) for i in range(4)],
    )

    code, answer = await api.call("GET", f"/v1/messages/generic/sendings/{sending_id}", headers)

    assert code == 200, answer
    stats = answer["sending"]["stats"]
    assert (stats["planned"], stats["prepared"], stats["suppressed"], stats["unreachable"]) == (11, 4, 4, 3)
