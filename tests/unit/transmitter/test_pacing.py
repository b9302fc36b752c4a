"""The transmitter's pacer: grants in priority order, within the calls-in-flight limit, spaced by the rate."""

from __future__ import annotations

import asyncio
import itertools

from transmitter.pacing import Pacer


async def test_a_free_permit_goes_to_the_highest_priority_waiting_then_the_earliest() -> None:
    pacer = Pacer(rate=10_000, concurrency=1)
    await pacer.slot(5)  # holds the only permit
    granted: list[str] = []

    async def request(name: str, priority: int) -> None:
        await pacer.slot(priority)
        granted.append(name)
        pacer.release()

    waiting = [asyncio.create_task(request(n, p)) for n, p in (("low-1", 1), ("low-2", 1), ("high", 9), ("mid", 5))]
    await asyncio.sleep(0)  # every request is queued
    assert granted == []
    pacer.release()
    await asyncio.gather(*waiting)
    assert granted == ["high", "mid", "low-1", "low-2"]
    await pacer.close()


async def test_no_more_calls_in_flight_than_the_limit() -> None:
    pacer = Pacer(rate=10_000, concurrency=2)
    in_flight = most = 0
    release, two_in = asyncio.Event(), asyncio.Event()

    async def call() -> None:
        nonlocal in_flight, most
        await pacer.slot(None)
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 2:
            two_in.set()
        await release.wait()
        in_flight -= 1
        pacer.release()

    calls = [asyncio.create_task(call()) for _ in range(6)]
    await asyncio.wait_for(two_in.wait(), 5)
    await asyncio.sleep(0.05)  # time enough for a third grant, were the limit not kept
    assert in_flight == 2
    release.set()
    await asyncio.gather(*calls)
    assert most == 2
    await pacer.close()


async def test_grants_are_spaced_by_the_rate_and_wait_out_a_pause() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(rate=100, concurrency=50)
    times: list[float] = []

    async def call() -> None:
        await pacer.slot(None)
        times.append(loop.time())
        pacer.release()

    await asyncio.gather(*(call() for _ in range(5)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.05 / 100 - 1e-4
    pacer.pause(0.2)
    paused_at = loop.time()
    await call()
    assert times[-1] - paused_at >= 0.2 - 1e-3
    await pacer.close()


async def test_a_request_cancelled_while_waiting_takes_no_permit() -> None:
    pacer = Pacer(rate=10_000, concurrency=1)
    await pacer.slot(None)
    cancelled = asyncio.create_task(pacer.slot(9))
    await asyncio.sleep(0)
    cancelled.cancel()
    later = asyncio.create_task(pacer.slot(1))
    await asyncio.sleep(0)
    pacer.release()
    await asyncio.wait_for(later, 1)  # the permit went past the cancelled request to the next one
    pacer.release()
    assert pacer._in_flight == 0
    await pacer.close()


async def test_a_stopped_pacer_refuses_every_waiting_request_and_every_later_one_at_once() -> None:
    pacer = Pacer(rate=1, concurrency=1)  # one grant a second: the waiting requests would wait for seconds
    assert await pacer.slot(None)
    waiting = [asyncio.create_task(pacer.slot(p)) for p in (1, 5, 9)]
    await asyncio.sleep(0)
    pacer.stop()
    assert await asyncio.wait_for(asyncio.gather(*waiting), 1) == [False, False, False]
    assert await pacer.slot(9) is False
    pacer.release()  # the call in flight ends as usual
    assert pacer._in_flight == 0
    await pacer.close()
