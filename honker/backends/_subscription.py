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

from ._wakeup import Waiter, resolve, wake_soon

# asyncio runs a timer when the clock is within its resolution (1 ns for
# time.monotonic) of the timer's time: a deadline that close has come
# (Subscription._timed_out).
_EARLY_S = 1e-6


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
        "_woke_at",
        "_deadline",
        "_timer",
        "_timer_loop",
        "__weakref__",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending = False
        self._error: BaseException | None = None
        self._event = threading.Event()  # set by a tick while a thread waits
        self._sync_waiters = 0
        self._waiter: Waiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: int | None = None  # the commit counter when our last read began
        # The commit counter of the tick that just resumed a coroutine's wait
        # in its own loop (None: none since the last read began; see mark).
        self._woke_at: int | None = None
        # The running wait's time limit (loop.time()), and the loop timer that
        # enforces it: kept across waits (see _limit), so a wait woken by a
        # commit cancels nothing and the next one usually schedules nothing.
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    # -- called from the feed's thread ----------------------------------------
    def _tick(self, counter: int | None = None, loop: Any = None) -> None:
        """A commit happened (``counter``: the commit counter it stands for, if
        known). ``loop``: given only by a callback of that event loop (SQLite's
        LoopWaker), never from inside a task: a coroutine of that loop waiting
        here is then resumed at once (:meth:`Waiter.resume`)."""
        # Fired in the waiter's own loop (SQLite's LoopWaker), the tick takes
        # no lock (the wake path): the waiter's coroutine is not running now,
        # and a tick from the feed's thread only ever sets _pending.
        own = loop is not None and loop is self._loop
        if not own:
            self._lock.acquire()
        try:
            if self._pending or self._error is not None:
                return
            if counter is not None and counter == self._seen:
                return  # our read began after this commit: nothing new for us
            self._pending = True
            waiter, loop = self._waiter, self._loop
            if self._sync_waiters:
                self._event.set()
        finally:
            if not own:
                self._lock.release()
        if waiter is not None and loop is not None:
            if own:
                if not waiter.done():
                    self._woke_at = counter
                    waiter.resume()
            elif loop is asyncio._get_running_loop():
                resolve(waiter)  # in the waiter's loop, not from its reader
            else:
                wake_soon(loop, waiter)

    def _die(self, error: BaseException) -> None:
        self._deadline = None  # a timer left running ends nothing
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
        """Consume a pending tick; raise if dead. (The lock is needed only where
        a tick must not fall between this and setting ``_waiter``: wait()'s start.)"""
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

    def _disarm(self, armed: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """After a wait: undo :meth:`_arm`. ``loop``: the running loop the
        wait ended in, when it ended normally there; None otherwise (a
        thread's wait, a cancelled or finalised coroutine's)."""

    async def wait(self, timeout: float | None) -> bool:
        """Wait for a tick or ``timeout`` seconds (None: forever); True on a tick."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._take():
                return True
            fut = Waiter(loop)
            self._waiter, self._loop = fut, loop
        armed = self._arm(loop)
        self._limit(loop, timeout)
        try:
            await fut
        except BaseException:  # cancelled: a tick that came meanwhile stays pending
            self._deadline = None
            # No loop given: the careful path (the loop may be closed by now,
            # a coroutine finalised after it).
            self._disarm(armed, None)
            with self._lock:
                if self._waiter is fut:
                    self._waiter = None
            raise
        self._disarm(armed, loop)
        # No lock (the wake path): a tick from the feed's thread only sets
        # _pending, so it is either taken here or left for the next wait, and
        # one that reads the finished future finds it done.
        if self._waiter is fut:
            self._waiter = None
        return self._take()

    def _limit(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        """Make the coming wait end after ``timeout`` seconds (None: never).

        One timer per subscription, left running when a wait ends early: a
        consumer waiting between jobs with the same limit (``idle_poll_s``)
        would otherwise schedule and cancel a timer per job. A timer due
        before the new limit is kept: when it fires it sees the later
        deadline and re-arms (:meth:`_timed_out`)."""
        if timeout is None:
            self._deadline = None  # a timer left running finds nothing to end
            return
        deadline = loop.time() + max(0.0, timeout)
        self._deadline = deadline
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline and self._timer_loop is loop:
                return
            timer.cancel()
        self._timer, self._timer_loop = loop.call_at(deadline, self._timed_out, loop), loop

    def _timed_out(self, loop: asyncio.AbstractEventLoop) -> None:
        """The subscription's timer fired: end the running wait if its deadline
        has come, else re-arm for it."""
        self._timer = self._timer_loop = None
        deadline, fut = self._deadline, self._waiter
        if deadline is None or fut is None or self._loop is not loop:
            return  # no wait with a limit runs in this loop now
        if loop.time() + _EARLY_S < deadline:  # a later wait moved the deadline
            self._timer, self._timer_loop = loop.call_at(deadline, self._timed_out, loop), loop
        elif not fut.done():
            fut.set_result(None)

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
