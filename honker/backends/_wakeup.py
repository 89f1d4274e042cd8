"""Waking a coroutine's future from any thread: shared by every backend's
change feed (``sqlite/watch/watcher.py``, ``postgres/changes.py``)."""

from __future__ import annotations

import asyncio


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
