"""SharedSession (SQLite, read-only requests): batches that come together share one session, one at a
time; it is closed as soon as nobody waits for it, so no connection stays checked out in between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from loaders import SharedSession


class CountingSessions:
    """A stand-in session factory that records how many sessions are open, and at most at once."""

    def __init__(self) -> None:
        self.opened = 0
        self.open_now = 0
        self.rolled_back = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        self.opened += 1
        self.open_now += 1
        owner = self

        class Session:
            async def rollback(self) -> None:
                owner.rolled_back += 1

        try:
            yield Session()
        finally:
            self.open_now -= 1


async def test_batches_that_come_together_share_one_session_then_it_is_closed() -> None:
    factory = CountingSessions()
    shared = SharedSession(factory)
    inside: list[int] = []

    async def batch() -> None:
        async with shared() as _:
            inside.append(factory.open_now)
            await asyncio.sleep(0)

    await asyncio.gather(*(batch() for _ in range(5)))
    assert (factory.opened, factory.open_now, inside) == (1, 0, [1] * 5)
    # a later batch (after the request waited for something else) opens a fresh one, closed again
    await batch()
    assert (factory.opened, factory.open_now) == (2, 0)
    await shared.release()
    assert factory.open_now == 0


async def test_a_failing_batch_rolls_back_and_the_next_ones_still_run() -> None:
    factory = CountingSessions()
    shared = SharedSession(factory)

    async def failing() -> None:
        async with shared() as _:
            raise RuntimeError("statement failed")

    async def fine() -> str:
        async with shared() as _:
            return "ok"

    results = await asyncio.gather(failing(), fine(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] == "ok"
    assert (factory.rolled_back, factory.open_now) == (1, 0)


async def test_a_cancelled_waiter_does_not_keep_the_session_open() -> None:
    factory = CountingSessions()
    shared = SharedSession(factory)
    gate = asyncio.Event()

    async def slow() -> None:
        async with shared() as _:
            await gate.wait()

    first = asyncio.create_task(slow())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(slow())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    await first
    assert factory.open_now == 0
