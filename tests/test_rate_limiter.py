"""The per-channel send pacing (``execute.RateLimiter``), on an event loop with a virtual clock.

Every sleep takes no real time and every figure is exact, however busy the machine is."""

from __future__ import annotations

import asyncio

import pytest

from autopilot_cli.sending._engine import RateLimiter

from .virtual_time import run_virtual


def now() -> float:
    return asyncio.get_running_loop().time()


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_writes_never_exceed_the_rate_in_any_second_even_when_some_leave_late() -> None:
    """Some requests are written long after their slot was given (a stalled event loop, a slow
    connect): the window counts them when they leave, so no second holds more than the rate."""
    rate = 20
    limiter = RateLimiter(rate)
    writes: list[float] = []

    async def one(lag: float) -> None:
        written = await limiter.take()
        await asyncio.sleep(lag)  # from the slot to the wire
        writes.append(now())
        written()

    async def main() -> float:
        start = now()
        # The first second's requests all leave 0.3 s late; counted from their slots, the next
        # second's would go 0.3 s too early and ~2x the rate would arrive within one second.
        await asyncio.gather(*(one(0.3 if i < rate else 0.0) for i in range(3 * rate)))
        return now() - start

    elapsed = run_virtual(main())
    assert most_in_one_second(writes) <= rate
    assert elapsed < 3.0  # 60 at 20/s: the third second's batch starts after ~2.4 s, not held back further
    assert elapsed > 2.0  # ... and not before the second window has passed


def test_a_request_not_yet_written_holds_its_slot() -> None:
    limiter = RateLimiter(2)

    async def main() -> tuple[bool, float]:
        first = await limiter.take()
        await limiter.take()  # second slot: never written in this test
        third = asyncio.ensure_future(limiter.take())
        await asyncio.sleep(0.3)
        blocked = not third.done()  # both slots in use, neither written: must wait
        first()
        written_at = now()
        await third  # ... until the written one leaves the window
        return blocked, now() - written_at

    blocked, waited = run_virtual(main())
    assert blocked
    assert waited == pytest.approx(1.0 + RateLimiter.MARGIN, abs=0.002)


def test_calling_written_twice_counts_once() -> None:
    limiter = RateLimiter(5)

    async def main() -> None:
        written = await limiter.take()
        written()
        written()

    run_virtual(main())
    assert (len(limiter.sent), limiter.pending) == (1, 0)


def test_bursts_are_spread_and_rates_below_one_per_second_widen_the_window() -> None:
    limiter = RateLimiter(4.0)  # 4 in a window, let through at most 3 × 4 per second
    times: list[float] = []

    async def main() -> None:
        for _ in range(4):
            written = await limiter.take()
            times.append(now())
            written()

    run_virtual(main())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= 1 / (RateLimiter.BURST * 4) - 0.002 for gap in gaps)  # catch-up bursts are spread out
    slow = RateLimiter(0.5)
    assert (slow.size, slow.window) == (1, 2.0 + RateLimiter.MARGIN)
