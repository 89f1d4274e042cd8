"""The change feed on PostgreSQL: LISTEN/NOTIFY on one dedicated connection.

Every write transaction of this backend ends with a ``pg_notify`` on the
schema's channel (``honker_changes_<schema>``) if it wrote anything
(``changed`` in sql/queries.sql); PostgreSQL delivers it at commit, to every
listening session in every process on every machine. The payload is empty:
a tick only says "re-read", and NOTIFY payloads are capped at 8000 bytes.

One :class:`ChangeFeed` per open Database holds one LISTEN connection (not
from the pool: a pooled connection would be handed to other work) and one
thread, ``honker-pg-listen``, that fans each notification out to the
subscriptions, the same way the SQLite watcher does:

- at least one tick follows every commit made after ``subscribe()`` returned
  (the feed is LISTENing before the first subscription exists);
- ticks coalesce (a subscription holds at most one pending tick) and may be
  spurious: consumers re-read after each;
- a slow safety tick (``SAFETY_TICK_S``) covers commits that did not notify
  (another tool's writes);
- if the LISTEN connection breaks, every subscription gets a tick, the feed
  reconnects every ``RECONNECT_S`` (ticking each time, since notifications
  may have been missed), and ticks once more when it listens again;
- ``close()`` (the Database closed) makes every wait raise
  :class:`honker.WatcherDiedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
import weakref
from collections.abc import Callable

import psycopg

from ..._errors import WatcherDiedError

log = logging.getLogger("honker.postgres")

SAFETY_TICK_S = 10.0
RECONNECT_S = 1.0
FEED_CLOSED = "honker: change feed closed (the Database was closed; reopen with honker.open())"

Connect = Callable[[], "psycopg.Connection[tuple[object, ...]]"]


class Changes:
    """One subscription to the feed (implements ``honker.backends.base.Changes``)."""

    __slots__ = (
        "path",
        "_lock",
        "_pending",
        "_error",
        "_event",
        "_waiter",
        "_loop",
        "_feed",
        "__weakref__",
    )

    def __init__(self, feed: ChangeFeed) -> None:
        self.path = feed.path
        self._lock = threading.Lock()
        self._pending = False
        self._error: BaseException | None = None
        self._event = threading.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feed: ChangeFeed | None = feed

    # -- called from the feed's thread ----------------------------------------
    def _tick(self) -> None:
        with self._lock:
            if self._pending or self._error is not None:
                return
            self._pending = True
            waiter, loop = self._waiter, self._loop
            self._event.set()
        if waiter is not None and loop is not None:
            _wake_soon(loop, waiter)

    def _die(self, error: BaseException) -> None:
        with self._lock:
            if self._error is not None:
                return
            self._error = error
            waiter, loop = self._waiter, self._loop
            self._event.set()
        if waiter is not None and loop is not None:
            _wake_soon(loop, waiter)

    # -- consumer side --------------------------------------------------------
    def _take(self) -> bool:
        if self._pending:
            self._pending = False
            self._event.clear()
            return True
        if self._error is not None:
            raise self._error
        return False

    async def wait(self, timeout: float | None) -> bool:
        """Wait for a tick (True) or ``timeout`` seconds (False; None: forever)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._take():
                return True
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter, self._loop = fut, loop
        timer = None if timeout is None else loop.call_later(max(0.0, timeout), _resolve, fut)
        try:
            await fut
        finally:
            if timer is not None:
                timer.cancel()
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
        self._event.wait(timeout)
        with self._lock:
            return self._take()

    def __aiter__(self) -> Changes:
        return self

    async def __anext__(self) -> None:
        while not await self.wait(None):
            pass

    def close(self) -> None:
        """Unsubscribe; later waits raise :class:`honker.WatcherDiedError`. Idempotent."""
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.unsubscribe(self)
        self._die(WatcherDiedError(FEED_CLOSED))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_soon(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    try:
        loop.call_soon_threadsafe(_resolve, fut)
    except RuntimeError:
        pass  # the loop is closed; nobody is waiting any more


class ChangeFeed:
    """The LISTEN connection and its thread (see the module docstring).

    ``connect`` opens a new autocommit connection; the constructor connects
    and LISTENs before it returns, so a subscription made afterwards misses
    no commit.
    """

    def __init__(
        self, connect: Connect, channel: str, path: str, scrub: Callable[[str], str]
    ) -> None:
        self.path = path
        self._scrub = scrub
        self._connect = connect
        self._channel = channel
        self._subs: weakref.WeakSet[Changes] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._conn: psycopg.Connection[tuple[object, ...]] | None = self._listen()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="honker-pg-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = self._connect()
        try:
            conn.execute(f"LISTEN {self._channel}")
        except BaseException:
            conn.close()
            raise
        return conn

    def subscribe(self) -> Changes:
        sub = Changes(self)
        with self._lock:
            if not self._closed:
                self._subs.add(sub)
                return sub
        sub._die(WatcherDiedError(FEED_CLOSED))
        return sub

    def unsubscribe(self, sub: Changes) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _tick_all(self) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub._tick()

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            conn = self._conn
            if conn is None:
                if self._sleep(RECONNECT_S):
                    break
                self._tick_all()  # while down, poll: commits may go unnoticed
                try:
                    self._conn = self._listen()
                except psycopg.Error as exc:
                    log.warning("LISTEN connection still down: %s", self._scrub(_first_line(exc)))
                    continue
                log.info("LISTEN connection back")
                self._tick_all()
                continue
            try:
                ready, _, _ = select.select([conn.fileno(), self._stop_r], [], [], SAFETY_TICK_S)
                if self._stop_r in ready:
                    break
                if not ready:
                    self._tick_all()  # the safety tick
                    continue
                pgconn = conn.pgconn
                pgconn.consume_input()
                got = False
                while pgconn.notifies() is not None:
                    got = True
                if got:
                    self._tick_all()
            except (psycopg.Error, OSError, ValueError) as exc:
                log.warning(
                    "LISTEN connection lost (%s); reconnecting", self._scrub(_first_line(exc))
                )
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.close()
                self._tick_all()

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the feed is closing meanwhile."""
        ready, _, _ = select.select([self._stop_r], [], [], seconds)
        return bool(ready) or self._closed

    def close(self) -> None:
        """Stop the thread, close the connection, end every subscription. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subs = list(self._subs)
            self._subs = weakref.WeakSet()
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
        for sub in subs:
            sub._die(WatcherDiedError(FEED_CLOSED))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
