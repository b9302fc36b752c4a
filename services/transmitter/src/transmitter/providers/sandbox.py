"""The sandbox provider: accepts everything, records what it got, and posts signed receipts back.

It lets the whole loop run on one laptop: the receipts travel through the real delivery-receipts webhook,
signed exactly as a real provider would sign them, and like a real provider's they come `delay` seconds after
the send, whether or not the transmitter has recorded the answer yet. Each names our dispatch id, as the
real providers' callbacks do.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import aiohttp
import asyncpg
import orjson
import structlog

from shared.domain import DispatchId
from shared.sandbox import SANDBOX_SIGNATURE_HEADER, sandbox_signature
from transmitter.providers.base import Outgoing, SendResult
from transmitter.providers.sandbox_repository import record_message

log = structlog.get_logger(__name__)

POSTERS = 8  # receipts posted at once


class SandboxProvider:
    """Records each message in `sandbox_messages` (the provider's own log), then reports it delivered."""

    name = "sandbox"

    def __init__(self, pool: asyncpg.Pool, receipts_url: str, secret: str, delay: float) -> None:
        self._pool = pool
        self._url = receipts_url
        self._secret = secret
        self._delay = delay
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._due: asyncio.Queue[tuple[float, str, DispatchId]] = asyncio.Queue()
        self._posters: list[asyncio.Task[None]] = []

    async def send(self, message: Outgoing) -> SendResult:
        message_id = f"sbx-{uuid.uuid4().hex}"
        await record_message(self._pool, message_id, message)
        if not self._posters:
            self._posters = [asyncio.create_task(self._post_receipts()) for _ in range(POSTERS)]
        self._due.put_nowait((time.monotonic() + self._delay, message_id, message.dispatch_id))
        return SendResult(dispatch_id=message.dispatch_id, provider_message_id=message_id)

    async def _post_receipts(self) -> None:
        while True:
            due, message_id, dispatch_id = await self._due.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            body = orjson.dumps({"message_id": message_id, "dispatch_id": dispatch_id, "status": "delivered",
                                 "timestamp": datetime.now(UTC).isoformat()})  # fmt: skip
            try:
                async with self._session.post(
                    self._url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        SANDBOX_SIGNATURE_HEADER: sandbox_signature(self._secret, body),
                    },
                ) as response:
                    if response.status >= 300:
                        log.warning("sandbox_receipt_refused", status=response.status, message_id=message_id)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("sandbox_receipt_failed", error=repr(exc)[:200], message_id=message_id)
            finally:
                self._due.task_done()

    async def close(self) -> None:
        if self._posters:
            try:  # the receipts of what was sent are still posted, as a provider would
                await asyncio.wait_for(self._due.join(), self._delay + 5)
            except TimeoutError:
                log.warning("sandbox_receipts_not_posted", count=self._due.qsize())
            for poster in self._posters:
                poster.cancel()
            await asyncio.gather(*self._posters, return_exceptions=True)
        await self._session.close()
