"""Waking a coroutine's future from any thread: shared by every backend's
change feed (``sqlite/watch/watcher.py``, ``postgres/changes.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import Context
from typing import Any


class Waiter(asyncio.Future[None]):
    """The future a coroutine's wait awaits (``Subscription.wait``).

    It remembers the first done callback added to it: the awaiting task's
    wake-up (a Task adds it, with the task's context, when the coroutine
    yields this future). :meth:`resume`, called from a callback of the same
    event loop (never from inside a task), completes the future and runs
    that wake-up at once, so the task resumes now instead of one loop
    iteration later (a ``call_soon``, a ``select`` and the loop's dispatch:
    ~20 µs on a small VM, on every wake-up of a waiting worker). Any other
    completion (``set_result``, a timeout, a cancel) wakes the task as
    asyncio always does.
    """

    __slots__ = ("_wake",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._wake: tuple[Callable[[Any], object], Context | None] | None = None

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: Context | None = None
    ) -> None:
        if self._wake is None:
            self._wake = (fn, context)
        super().add_done_callback(fn, context=context)

    def resume(self) -> None:
        """Complete the future (result None) and run the awaiting task's
        wake-up here. Only from a callback of this future's loop."""
        wake = self._wake
        if wake is not None and not self.remove_done_callback(wake[0]):
            wake = None  # nobody awaits it yet: nothing to run here
        self.set_result(None)  # any other callbacks as usual
        if wake is not None:
            fn, context = wake
            if context is None:
                fn(self)
            else:
                context.run(fn, self)


def resolve(fut: asyncio.Future[None]) -> None:
    """Complete ``fut`` unless it is already done (a timeout or a cancel won)."""
    if not fut.done():
        fut.set_result(None)


def wake_soon(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    """:func:`resolve` ``fut`` on ``loop`` from another thread."""
    try:
        loop.call_soon_threadsafe(resolve, fut)
    except RuntimeError:
        pass  # the loop is closed; nobody is waiting any more
