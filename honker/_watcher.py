"""The update watcher: one background thread per Database that notices commits.

A commit from any connection in any process changes ``PRAGMA data_version`` as
seen by *another* connection; the watcher keeps its own autocommit connection,
polls that value, and fans a "something committed, re-read" tick out to every
subscriber. There is no thread per subscriber: a tick sets a flag on each
subscription and wakes whoever is waiting on it (an asyncio future through
``call_soon_threadsafe``, or a ``threading.Event``).

Semantics:
- at least one tick follows every commit made after ``subscribe()`` returned
  (the watcher captured its baseline before the first subscription existed);
- ticks coalesce: a subscription holds at most one pending tick;
- ticks are spurious-tolerant hints: consumers must re-query after each;
- if the database file is replaced (its (st_dev, st_ino) changes) or the
  Database is closed, every subscription raises :class:`WatcherDiedError`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
import weakref
from urllib.parse import quote

from ._errors import ConfigError, WatcherDiedError

log = logging.getLogger("honker.watcher")

DEFAULT_POLL_INTERVAL_MS = 1
IDENTITY_CHECK_S = 0.1
WATCHER_DIED = (
    "honker: update watcher died (database file likely replaced; "
    "recreate honker.open() to recover)"
)

_BACKEND_ALIASES = {None: "polling", "polling": "polling", "poll": "polling"}
_FEATURE_BACKENDS = {
    "kernel": "kernel",
    "kernel-watcher": "kernel",
    "shm": "shm",
    "shm-fast-path": "shm",
}
_FEATURE_NAMES = {"kernel": "kernel-watcher", "shm": "shm-fast-path"}


def resolve_backend(name: object) -> str:
    """Map a ``watcher_backend`` argument to a backend, with honker's errors."""
    if name is None or (isinstance(name, str) and name in _BACKEND_ALIASES):
        return _BACKEND_ALIASES[name]  # type: ignore[index]
    if isinstance(name, str) and name in _FEATURE_BACKENDS:
        backend = _FEATURE_BACKENDS[name]
        raise ConfigError(
            f"watcher backend {backend!r} requires the {_FEATURE_NAMES[backend]} Cargo feature"
        )
    shown = _rust_debug(name) if isinstance(name, str) else repr(name)
    raise ConfigError(f"unknown watcher backend {shown}; valid: None, 'polling', 'kernel', 'shm'")


def resolve_poll_interval(ms: object) -> float:
    """``watcher_poll_interval_ms`` in seconds (None → 1 ms)."""
    if ms is None:
        return DEFAULT_POLL_INTERVAL_MS / 1000
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        raise ConfigError(f"watcher poll interval must be a number of milliseconds, got {ms!r}")
    if ms <= 0:
        raise ConfigError("watcher poll interval must be positive")
    return ms / 1000


def _rust_debug(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class UpdateEvents:
    """One subscription to the watcher's ticks; an async iterator of ``None``.

    Semantics:
    - a tick that arrives before the first ``await`` is kept (at most one);
    - after the watcher dies every wait raises :class:`WatcherDiedError`;
    - ``close()`` unsubscribes; garbage collection does too.
    """

    __slots__ = ("path", "_lock", "_pending", "_error", "_event", "_waiter", "_loop", "_hub", "__weakref__")

    def __init__(self, hub: UpdateWatcher) -> None:
        self.path = hub.path
        self._lock = threading.Lock()
        self._pending = False
        self._error: BaseException | None = None
        self._event = threading.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hub: UpdateWatcher | None = hub

    # -- called from the watcher thread -------------------------------------
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

    # -- consumer side ------------------------------------------------------
    def _take(self) -> bool:
        """Consume a pending tick (caller holds the lock); raise if dead."""
        if self._pending:
            self._pending = False
            self._event.clear()
            return True
        if self._error is not None:
            raise self._error
        return False

    async def wait(self, timeout: float | None) -> bool:
        """Wait for a tick or ``timeout`` seconds (None: forever); True on a tick."""
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
        self._event.wait(timeout)
        with self._lock:
            return self._take()

    def __aiter__(self) -> UpdateEvents:
        return self

    async def __anext__(self) -> None:
        while not await self.wait(None):
            pass
        return None

    def close(self) -> None:
        """Unsubscribe; later waits raise :class:`WatcherDiedError`."""
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.unsubscribe(self)
        self._die(WatcherDiedError(WATCHER_DIED))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_soon(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    try:
        loop.call_soon_threadsafe(_resolve, fut)
    except RuntimeError:
        pass  # the loop is closed; nobody is waiting any more


class UpdateWatcher:
    """The watcher thread for one database file and its subscribers."""

    def __init__(self, path: str, poll_interval_s: float) -> None:
        self.path = path
        self._interval = poll_interval_s
        self._subs: weakref.WeakSet[UpdateEvents] = weakref.WeakSet()
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._dead: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="honker-update-poll", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error

    # -- subscribers ----------------------------------------------------------
    def subscribe(self) -> UpdateEvents:
        sub = UpdateEvents(self)
        with self._subs_lock:
            if self._dead is None:
                self._subs.add(sub)
                return sub
        sub._die(self._dead)
        return sub

    def unsubscribe(self, sub: UpdateEvents) -> None:
        with self._subs_lock:
            self._subs.discard(sub)

    def _fire(self) -> None:
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            sub._tick()

    def _kill_all(self, error: BaseException) -> None:
        with self._subs_lock:
            self._dead = error
            subs = list(self._subs)
            self._subs = weakref.WeakSet()
        for sub in subs:
            sub._die(error)

    @property
    def alive(self) -> bool:
        return self._dead is None and self._thread.is_alive()

    def close(self) -> None:
        """Stop and join the thread; every subscriber sees the watcher die."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._kill_all(WatcherDiedError(WATCHER_DIED))

    # -- the thread -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # mode=rw mirrors honker's flags: no CREATE, no PRAGMAs (busy_timeout 0).
        uri = "file:" + quote(self.path) + "?mode=rw"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=0)

    def _run(self) -> None:
        try:
            conn: sqlite3.Connection | None = self._connect()
            version = _data_version(conn)
            st = os.stat(self.path)
            identity = (st.st_dev, st.st_ino)
        except BaseException as exc:  # reported to open() by the spawner
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(conn, version, identity)
        except _FileReplaced as exc:
            log.error("%s", exc)
            self._kill_all(WatcherDiedError(WATCHER_DIED))
        except BaseException:
            log.exception("honker update watcher crashed")
            self._kill_all(WatcherDiedError(WATCHER_DIED))

    def _loop(self, conn: sqlite3.Connection | None, version: int, identity: tuple[int, int]) -> None:
        sleep, stop, fire = time.sleep, self._stop, self._fire
        next_identity_check = time.monotonic() + IDENTITY_CHECK_S
        try:
            while not stop.is_set():
                sleep(self._interval)
                if conn is None:
                    try:
                        conn = self._connect()
                        version = _data_version(conn)
                    except sqlite3.Error:
                        conn = None
                else:
                    try:
                        now_version = _data_version(conn)
                    except sqlite3.OperationalError as exc:
                        if _is_busy(exc):
                            continue  # retry next pass; re-baselining would lose a wake
                        log.warning("update watcher poll failed: %s", exc)
                        conn.close()
                        conn = None
                        fire()  # conservative wake
                    except sqlite3.Error as exc:
                        log.warning("update watcher poll failed: %s", exc)
                        conn.close()
                        conn = None
                        fire()
                    else:
                        if now_version != version:
                            version = now_version
                            fire()
                if time.monotonic() >= next_identity_check:
                    next_identity_check = time.monotonic() + IDENTITY_CHECK_S
                    try:
                        st = os.stat(self.path)
                    except OSError as exc:
                        log.warning("update watcher cannot stat %s: %s", self.path, exc)
                        if conn is not None:
                            conn.close()
                            conn = None
                        fire()
                        continue
                    if (st.st_dev, st.st_ino) != identity:
                        raise _FileReplaced(
                            f"honker: database file replaced: expected (dev={identity[0]}, "
                            f"ino={identity[1]}), found (dev={st.st_dev}, ino={st.st_ino}) at "
                            f"{_rust_debug(self.path)}. The watcher cannot recover; close the "
                            "Database and reopen with honker.open()."
                        )
        finally:
            if conn is not None:
                conn.close()


class _FileReplaced(Exception):
    pass


def _data_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA data_version").fetchone()[0]


def _is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


