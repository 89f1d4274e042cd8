"""The change feed on PostgreSQL: LISTEN/NOTIFY on one dedicated connection per process.

Every write transaction of this backend ends with a ``pg_notify`` on the
schema's channel (``honker_changes_<schema>``) if it wrote anything
(``commit`` in sql/queues.sql); PostgreSQL delivers it at commit, to every
listening session in every process on every machine. The payload is empty:
a tick only says "re-read", and NOTIFY payloads are capped at 8000 bytes.

Each open Database has a :class:`ChangeFeed` (its subscriptions). The feeds of
one process opened with the same URL (honker's own options aside) share one
:class:`_Listener`: one dedicated LISTEN connection (not from the pool: a
pooled connection would be handed to other work) that LISTENs on each feed's
channel, and one thread, ``honker-pg-listen``, that does all the I/O on it
and fans each notification out to the feeds of its channel and their
subscriptions, the same way the SQLite watcher does. The listener is opened
by the first feed and closed with the last:

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

import contextlib
import logging
import os
import select
import threading
import weakref
from collections.abc import Callable
from typing import Any

import psycopg

from ..._errors import WatcherDiedError
from .._subscription import Subscription

log = logging.getLogger("honker.postgres")

SAFETY_TICK_S = 10.0
RECONNECT_S = 1.0
FEED_CLOSED = "honker: change feed closed (the Database was closed; reopen with honker.open())"

# How long a feed joining a running listener waits for its LISTEN.
LISTEN_WAIT_S = 10.0
CONNECT_TIMEOUT_S = 10


class Changes(Subscription):
    """One subscription to the feed (implements ``honker.backends.base.Changes``;
    ``backends/_subscription.py`` holds the part shared with SQLite's)."""

    __slots__ = ("_feed",)

    def __init__(self, feed: ChangeFeed) -> None:
        super().__init__(feed.path)
        self._feed: ChangeFeed | None = feed

    def mark(self) -> None:
        """Nothing to drop: a NOTIFY names no commit this read could be matched to."""

    def generation(self) -> int:
        """The feed's count of fan-outs: it changes before any subscriber of this
        Database is woken (``mark`` counts nothing here), so listeners of one
        channel share a read begun while it stayed the same (``_notify.py``)."""
        feed = self._feed
        return -1 if feed is None else feed.generation

    def busy(self) -> None:
        """Nothing to stop: the process's one LISTEN connection serves every feed."""

    def close(self) -> None:
        """Unsubscribe; later waits raise :class:`honker.WatcherDiedError`. Idempotent."""
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.unsubscribe(self)
        self._die(WatcherDiedError(FEED_CLOSED))


class ChangeFeed:
    """One Database's subscriptions to its schema's channel (see the module docstring).

    The constructor returns once the process's listener LISTENs on
    ``channel``, so a subscription made afterwards misses no commit; it
    raises the driver's error if the listener cannot connect.
    """

    def __init__(self, conninfo: str, channel: str, path: str, scrub: Callable[[str], str]) -> None:
        self.path = path
        self.channel = channel
        self._subs: weakref.WeakSet[Changes] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        # Bumped before every fan-out (a NOTIFY, the safety tick, a reconnect):
        # a read begun while it stayed the same covers every tick sent so far.
        self.generation = 0
        self._listener = _Listener.join(conninfo, self, scrub)

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
            self.generation += 1
            subs = list(self._subs)
        for sub in subs:
            sub._tick()

    def close(self) -> None:
        """Leave the listener (closed with its last feed), end every subscription. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subs = list(self._subs)
            self._subs = weakref.WeakSet()
        self._listener.leave(self)
        for sub in subs:
            sub._die(WatcherDiedError(FEED_CLOSED))


# The listeners of this process, by (pid, conninfo): a forked child makes its own.
_LISTENERS: dict[tuple[int, str], _Listener] = {}
_LISTENERS_LOCK = threading.Lock()


class _Listener:
    """One LISTEN connection and its thread, shared by the feeds of a process."""

    def __init__(self, conninfo: str, scrub: Callable[[str], str]) -> None:
        self._conninfo = conninfo
        self._scrub = scrub
        self._lock = threading.Lock()  # guards _feeds and _requests
        self._feeds: dict[str, set[ChangeFeed]] = {}
        # (statement, channel, done): LISTEN/UNLISTEN for the thread to run.
        self._requests: list[tuple[str, str, threading.Event | None]] = []
        self._closed = False
        self._conn: psycopg.Connection[Any] | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="honker-pg-listen", daemon=True)

    @classmethod
    def join(cls, conninfo: str, feed: ChangeFeed, scrub: Callable[[str], str]) -> _Listener:
        """The process's listener for ``conninfo``, LISTENing on ``feed.channel``."""
        key = (os.getpid(), conninfo)
        with _LISTENERS_LOCK:
            listener = _LISTENERS.get(key)
            if listener is None:
                listener = cls(conninfo, scrub)
                listener._feeds[feed.channel] = {feed}
                try:
                    listener._conn = listener._listen()  # here: its errors reach changes()
                except BaseException:
                    listener._close_pipe()
                    raise
                listener._thread.start()
                _LISTENERS[key] = listener
                return listener
            done = listener._add(feed)
        if done is not None:
            done.wait(LISTEN_WAIT_S)
        return listener

    def _add(self, feed: ChangeFeed) -> threading.Event | None:
        with self._lock:
            feeds = self._feeds.setdefault(feed.channel, set())
            feeds.add(feed)
            if len(feeds) > 1:
                return None
            done = threading.Event()
            self._requests.append(("LISTEN", feed.channel, done))
        self._wake()
        return done

    def leave(self, feed: ChangeFeed) -> None:
        """Stop serving ``feed``; the last feed to leave closes the listener."""
        with _LISTENERS_LOCK:
            with self._lock:
                feeds = self._feeds.get(feed.channel, set())
                feeds.discard(feed)
                if not feeds:
                    self._feeds.pop(feed.channel, None)
                    self._requests.append(("UNLISTEN", feed.channel, None))
                last = not self._feeds
            if last:
                key = (os.getpid(), self._conninfo)
                if _LISTENERS.get(key) is self:
                    del _LISTENERS[key]
        if last:
            self._stop()
        else:
            self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _listen(self) -> psycopg.Connection[Any]:
        """A new connection LISTENing on every channel served."""
        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            # Notifications that arrive while psycopg itself reads a result
            # (during a LISTEN below) come through this handler.
            conn.add_notify_handler(lambda n: self._notified(n.channel))
            with self._lock:
                channels = sorted(self._feeds)
            for channel in channels:
                conn.execute(f"LISTEN {channel}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _notified(self, channel: str) -> None:
        with self._lock:
            feeds = list(self._feeds.get(channel, ()))
        for feed in feeds:
            feed._tick_all()

    def _tick_all(self) -> None:
        with self._lock:
            feeds = [f for fs in self._feeds.values() for f in fs]
        for feed in feeds:
            feed._tick_all()

    def _serve(self, conn: psycopg.Connection[Any] | None) -> None:
        """Run the pending LISTEN/UNLISTEN requests (without a connection, the
        reconnect LISTENs every channel: only mark them done)."""
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_r, 4096)
        with self._lock:
            requests, self._requests = self._requests, []
        try:
            for statement, channel, _ in requests:
                if conn is not None:
                    conn.execute(f"{statement} {channel}")
        finally:
            for _, _, done in requests:
                if done is not None:
                    done.set()

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:
        while not self._closed:
            conn = self._conn
            if conn is None:
                self._reconnect()
                continue
            try:
                ready, _, _ = select.select([conn.fileno(), self._wake_r], [], [], SAFETY_TICK_S)
                if self._closed:
                    break
                if not ready:
                    self._tick_all()  # the safety tick
                    continue
                if self._wake_r in ready:
                    self._serve(conn)
                pgconn = conn.pgconn
                pgconn.consume_input()
                channels = set()
                while (note := pgconn.notifies()) is not None:
                    channels.add(note.relname.decode("utf-8", "replace"))
                for channel in sorted(channels):
                    self._notified(channel)
            except (psycopg.Error, OSError, ValueError) as exc:
                if self._closed:
                    break
                log.warning(
                    "LISTEN connection lost (%s); reconnecting", self._scrub(_first_line(exc))
                )
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.close()
                self._tick_all()

    def _reconnect(self) -> None:
        """One reconnect attempt after ``RECONNECT_S`` (or a request); ticks
        every feed, since notifications may have been missed meanwhile."""
        select.select([self._wake_r], [], [], RECONNECT_S)
        if self._closed:
            return
        self._serve(None)
        self._tick_all()
        try:
            self._conn = self._listen()
        except psycopg.Error as exc:
            log.warning("LISTEN connection still down: %s", self._scrub(_first_line(exc)))
            return
        log.info("LISTEN connection back")
        self._tick_all()

    def _stop(self) -> None:
        self._closed = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._close_pipe()
        with self._lock:
            requests, self._requests = self._requests, []
        for _, _, done in requests:
            if done is not None:
                done.set()

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
