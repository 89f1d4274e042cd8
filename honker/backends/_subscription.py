"""One subscriber of a backend's change feed: the state and the waits every
backend's :class:`honker.backends.base.Changes` shares.

The feed's thread (SQLite's watcher, PostgreSQL's LISTEN thread) calls
:meth:`Subscription._tick` and :meth:`Subscription._die`; the subscriber
waits with :meth:`Subscription.wait` (a coroutine) or
:meth:`Subscription.wait_sync` (a thread). A backend's subclass adds what only
it has: ``_arm``/``_disarm`` around each wait (SQLite's kernel watches),
``mark``, ``generation``, ``busy`` and ``close``.

Semantics:
- a subscription holds at most one pending tick (ticks coalesce), kept from
  before the first wait;
- a tick carrying the commit counter the subscriber's last read began at
  (``_seen``, set by ``mark``) is dropped: that read saw the commit;
- after ``_die`` every wait raises the error it was given.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ._wakeup import resolve, wake_soon


class Subscription:
    """The shared part of a ``Changes`` implementation (see the module docstring)."""

    __slots__ = (
        "path",
        "_lock",
        "_pending",
        "_error",
        "_event",
        "_sync_waiters",
        "_waiter",
        "_loop",
        "_seen",
        "__weakref__",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending = False
        self._error: BaseException | None = None
        self._event = threading.Event()  # set by a tick while a thread waits
        self._sync_waiters = 0
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: int | None = None  # the commit counter when our last read began

    # -- called from the feed's thread ----------------------------------------
    def _tick(self, counter: int | None = None) -> None:
        with self._lock:
            if self._pending or self._error is not None:
                return
            if counter is not None and counter == self._seen:
                return  # our read began after this commit: nothing new for us
            self._pending = True
            waiter, loop = self._waiter, self._loop
            if self._sync_waiters:
                self._event.set()
        if waiter is not None and loop is not None:
            if loop is asyncio._get_running_loop():
                resolve(waiter)  # fired from the waiter's own loop (SQLite's LoopWaker)
            else:
                wake_soon(loop, waiter)

    def _die(self, error: BaseException) -> None:
        with self._lock:
            if self._error is not None:
                return
            self._error = error
            waiter, loop = self._waiter, self._loop
        self._event.set()
        if waiter is not None and loop is not None:
            wake_soon(loop, waiter)

    # -- consumer side --------------------------------------------------------
    def _take(self) -> bool:
        """Consume a pending tick (caller holds the lock); raise if dead."""
        if self._pending:
            self._pending = False
            return True
        if self._error is not None:
            raise self._error
        return False

    def _arm(self, loop: asyncio.AbstractEventLoop | None) -> Any:
        """Before a wait (``loop`` None: a thread's): what the feed must start
        doing for this waiter; handed back to :meth:`_disarm` after it."""
        return None

    def _disarm(self, armed: Any) -> None:
        """After a wait: undo :meth:`_arm`."""

    async def wait(self, timeout: float | None) -> bool:
        """Wait for a tick or ``timeout`` seconds (None: forever); True on a tick."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._take():
                return True
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter, self._loop = fut, loop
        armed = self._arm(loop)
        timer = None if timeout is None else loop.call_later(max(0.0, timeout), resolve, fut)
        try:
            await fut
        finally:
            if timer is not None:
                timer.cancel()
            self._disarm(armed)
            with self._lock:
                if self._waiter is fut:
                    self._waiter = None
        with self._lock:
            return self._take()

    def wait_sync(self, timeout: float | None) -> bool:
        """Blocking form of :meth:`wait` for threads without an event loop."""
        with self._lock:
            if self._take():
                return True
            self._event.clear()
            self._sync_waiters += 1
        armed = self._arm(None)
        try:
            self._event.wait(timeout)
        finally:
            self._disarm(armed)
            with self._lock:
                self._sync_waiters -= 1
        with self._lock:
            return self._take()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> None:
        while not await self.wait(None):
            pass
