"""`messaging-admin sending ID --follow` follows a real sending through the stack until it is final."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.conftest import Stack
from tests.e2e.sendings import post_sending, wait_for_delivery

RECIPIENTS = [{"msisdn": f"47900007{i:02d}", "properties": {"name": f"R{i}"}} for i in range(40)]


async def admin(stack: Stack, *args: str, within: float = 60) -> tuple[int, str, str]:
    """Run messaging-admin without blocking the loop; killed if it outlives `within`."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "messaging-admin"), *args,
        env={**os.environ, "DATABASE_URL": stack.database_url, "COLUMNS": "120"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_follow_shows_each_stage_until_the_sending_is_final(stack: Stack) -> None:
    headers = stack.new_tenant("follow")
    at = datetime.now(UTC) + timedelta(seconds=2)
    sending_id = await post_sending(
        stack, headers, {"schedule": {"type": "absolute", "at": at.isoformat()}, "recipients": RECIPIENTS}
    )
    code, out, err = await admin(stack, "sending", str(sending_id), "--follow", "--interval", "0.1")
    assert code == 0, err
    lines = out.strip().splitlines()
    n = len(RECIPIENTS)
    assert lines[0].startswith(f"sending {sending_id} scheduled:"), lines[0]  # it started before the work
    final = [line for line in lines if line.startswith(f"sending {sending_id} transmitted:")]
    assert final, out
    assert final[-1].startswith(
        f"sending {sending_id} transmitted: planned {n}, prepared {n}, transmitted {n}, failed 0,"
    ), out
    # The bars: one per stage, complete at the end (rich draws them when the view stops).
    for stage in ("prepared", "transmitted", "receipts"):
        assert any(line.lstrip().startswith(stage) for line in lines), stage
    assert f"{n}/{n}" in out

    await wait_for_delivery(stack, headers, sending_id, 30)
    code, out, _ = await admin(stack, "sending", str(sending_id))
    assert code == 0
    assert f"delivered {n}, delivery_failed 0" in out


async def test_follow_of_an_unknown_sending_fails_with_a_message(stack: Stack) -> None:
    code, _, err = await admin(stack, "sending", "987654321", "--follow")
    assert code == 1
    assert "no sending 987654321" in err
