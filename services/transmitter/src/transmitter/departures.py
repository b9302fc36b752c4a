"""When a batch's event may be acknowledged: once every dispatch of the batch has gone, not once all are answered.

A dispatch has gone when its call is out (claimed, so a crash costs only that call, whatever becomes of the event)
or when it is done with (sent, failed, or not ours). One waiting for a grant, its claim or a retry after a transient
refusal has not: were the process to die then, the event must come again so that the next transmitter sends it at
once. Acknowledging at that point lets the next batch of the partition fill the calls that free up while the last
calls of this one are still out, instead of the provider waiting on every batch boundary (about 15 % of the time at
1 000 dispatches a batch, measured); the rest of the batch (its answers, the completion of the sending, the
announcement) goes on in the background, held in hand so a stopping process waits for it.
"""

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

import structlog

from shared.domain import DispatchId
from shared.kafka import Interrupted

log = structlog.get_logger(__name__)


class Departures:
    """The dispatches of one batch that have not gone yet; none has gone before the batch knows what it sends."""

    def __init__(self) -> None:
        self._waiting: set[DispatchId] = set()
        self._all_gone = asyncio.Event()

    def expect(self, dispatch_ids: Iterable[DispatchId]) -> None:
        """These dispatches of the batch are to be sent (those still unsent, once read)."""
        self._waiting.update(dispatch_ids)
        if not self._waiting:
            self._all_gone.set()

    def gone(self, dispatch_id: DispatchId) -> None:
        """Its call is out, or it is done with."""
        self._waiting.discard(dispatch_id)
        if not self._waiting:
            self._all_gone.set()  # once set, never cleared by a later `waiting`: the event is acknowledged

    def waiting(self, dispatch_id: DispatchId) -> None:
        """Refused transiently: it waits for a retry."""
        if not self._all_gone.is_set():
            self._waiting.add(dispatch_id)

    async def wait(self) -> None:
        await self._all_gone.wait()


async def until_gone(batch: Coroutine[Any, Any, None], departures: Departures) -> None:
    """Run `batch` and return once its dispatches have gone (or it ended, raising what it raised); the rest of
    it goes on in the background, its failures logged."""
    task = asyncio.ensure_future(batch)
    gone = asyncio.ensure_future(departures.wait())
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        if not gone.done():  # nothing acknowledged: nothing of the batch may go on
            task.cancel()
        raise
    finally:
        gone.cancel()
    if task.done():
        task.result()  # raises what the batch raised: the event is then not acknowledged
        return
    task.add_done_callback(_log_failure)


def _log_failure(task: "asyncio.Future[None]") -> None:
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, Interrupted):  # what was left waits for the scheduler's re-drive
        log.info("batch_rest_interrupted")
    elif error is not None:  # the outcomes are recorded by their own loop; the re-drive completes the sending
        log.warning("batch_rest_failed", error=repr(error)[:300])
