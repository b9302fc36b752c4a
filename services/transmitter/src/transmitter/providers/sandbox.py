"""The sandbox provider: accepts everything, records what it got, and posts signed receipts back.

It lets the whole loop run on one laptop: the receipts travel through the real delivery-receipts
webhook, signed exactly as a real provider would sign them.
"""

import asyncio
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import asyncpg
import orjson
import structlog

from transmitter.providers.base import Outgoing, SendResult

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Sandbox-Signature"


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>` HMAC of the raw body; delivery-receipts verifies the same."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxProvider:
    """Records each message in `sandbox_messages`, then reports it delivered to the receipts webhook."""

    name = "sandbox"

    def __init__(self, pool: asyncpg.Pool, receipts_url: str, secret: str, delay: float) -> None:
        self._pool = pool
        self._url = receipts_url
        self._secret = secret
        self._delay = delay
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: Outgoing) -> SendResult:
        message_id = f"sbx-{uuid.uuid4().hex}"
        await self._pool.execute(
            "INSERT INTO sandbox_messages (provider_message_id, dispatch_id, channel, recipient, content) "
            "VALUES ($1, $2, $3, $4, $5)",
            message_id,
            message.dispatch_id,
            message.channel,
            message.recipient,
            message.content,
        )
        return SendResult(dispatch_id=message.dispatch_id, provider_message_id=message_id)

    async def recorded(self, results: Sequence[SendResult]) -> None:
        ids = [r.provider_message_id for r in results if r.provider_message_id]
        if ids:
            task = asyncio.create_task(self._post_receipts(ids))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post_receipts(self, message_ids: list[str]) -> None:
        await asyncio.sleep(self._delay)
        for message_id in message_ids:
            body = orjson.dumps(
                {
                    "message_id": message_id,
                    "status": "delivered",
                    "timestamp": datetime.now(UTC).isoformat(),
                }
            )
            try:
                async with self._session.post(
                    self._url,
                    data=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)},
                ) as response:
                    if response.status >= 300:
                        log.warning("sandbox_receipt_refused", status=response.status, message_id=message_id)
            except aiohttp.ClientError as exc:
                log.warning("sandbox_receipt_failed", error=repr(exc)[:200], message_id=message_id)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._session.close()
