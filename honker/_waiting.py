"""The one "read; if nothing, wait for a change until a deadline" loop.

Every waiting iterator (claim, listen, subscribe, wait_result, the scheduler's
leader and standby loops) is a *step* (one short read or write that either
produces a value or says how long to wait) and this loop around it, so the
wake-up rules are written once:

- the caller subscribes to changes *before* its first step, so a commit
  between a step and the wait is not lost (the feed keeps a pending tick);
- the wait ends on a commit from any process, on the step's timeout, or on
  any of the extra ``events`` (an ``asyncio.Event`` such as a stop signal);
- a dead change feed (database closed, file replaced) raises from the wait.

Example::

    def step() -> Job | Wait:
        rows = claim()
        return Job(rows[0]) if rows else Wait(5.0)

    job = await until(changes, step)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from .backends.base import Changes

T = TypeVar("T")


class Wait:
    """A step's answer "nothing yet": wait up to ``timeout_s`` seconds (None: no limit)."""

    __slots__ = ("timeout_s",)

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s


async def until(changes: Changes, step: Callable[[], T | Wait], *events: asyncio.Event | None) -> T:
    """Run ``step`` until it returns a value; between runs wait for a change."""
    changes.mark()  # ticks for commits this step will see are dropped
    result = step()
    if not isinstance(result, Wait):
        changes.busy()  # work without a wait: the backend may stop watching for us
        return result
    while True:
        if any(e is not None for e in events):
            await wait_any(changes, result.timeout_s, *events)
        else:
            await changes.wait(result.timeout_s)
        changes.mark()
        result = step()
        if not isinstance(result, Wait):
            return result


async def wait_any(changes: Changes, timeout: float | None, *events: asyncio.Event | None) -> None:
    """Wait for a commit tick, ``timeout`` seconds, or any of ``events`` (set)."""
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(changes.wait(timeout))]
    waiters += [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    for w in done:
        if not w.cancelled() and w.exception() is not None:
            raise w.exception()  # type: ignore[misc]  # e.g. the watcher died
