"""The update watcher: one background thread per Database that notices commits.

How it notices a commit from any connection in any process is the backend's
business (:mod:`honker.backends.sqlite.watch.detectors`: data_version polling, the ``-shm`` change
counter, or inotify confirmed by data_version); this module runs the thread,
checks the file's identity, and fans a "something committed, re-read" tick out
to every subscriber. There is no thread per subscriber: a tick sets a flag on each
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
import functools
import itertools
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...._errors import ConfigError, WatcherDiedError
from ..._subscription import Subscription
from .detectors import LoopWaker, _DataVersion, _ShmCounter, commit_counter, make_detector

if TYPE_CHECKING:
    from .detectors import Detector

log = logging.getLogger("honker.watcher")

DEFAULT_POLL_INTERVAL_MS = 1
IDENTITY_CHECK_S = 0.1
# A loop's inotify watch is dropped once none of its subscribers has waited
# for this long, at the thread's next 100 ms check (or at once when one
# reports it is busy: UpdateEvents.busy).
UNWATCH_AFTER_S = 0.05
WATCHER_DIED = (
    "honker: update watcher died (database file likely replaced; recreate honker.open() to recover)"
)

# honker's names (exact, case-sensitive) for each backend.
_BACKEND_NAMES = {
    "polling": "polling",
    "poll": "polling",
    "kernel": "kernel",
    "kernel-watcher": "kernel",
    "shm": "shm",
    "shm-fast-path": "shm",
}


def resolve_backend(name: object) -> str | None:
    """Map a ``watcher_backend`` argument to a backend name (None: the default).

    Raises honker's ``ValueError`` for a name it does not know.
    """
    if name is None:
        return None
    if isinstance(name, str) and name in _BACKEND_NAMES:
        return _BACKEND_NAMES[name]
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
    try:
        finite = math.isfinite(ms)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ConfigError(f"watcher poll interval must be a finite number, got {ms!r}")
    return ms / 1000


_RUST_ESCAPES = {"\\": "\\\\", '"': '\\"', "\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n"}


def _rust_debug(s: str) -> str:
    """``s`` quoted as Rust's ``{:?}`` prints it (control characters escaped)."""
    out = []
    for ch in s:
        esc = _RUST_ESCAPES.get(ch)
        if esc is None and (ch < " " or "\x7f" <= ch <= "\x9f"):
            esc = f"\\u{{{ord(ch):x}}}"
        out.append(esc or ch)
    return '"' + "".join(out) + '"'


class UpdateEvents(Subscription):
    """One subscription to the watcher's ticks; an async iterator of ``None``.

    Semantics (``backends/_subscription.py`` holds the shared part):
    - a tick that arrives before the first ``await`` is kept (at most one);
    - after the watcher dies every wait raises :class:`WatcherDiedError`;
    - ``close()`` unsubscribes; garbage collection does too.
    """

    __slots__ = ("_hub",)

    def __init__(self, hub: UpdateWatcher) -> None:
        super().__init__(hub.path)
        self._hub: UpdateWatcher | None = hub

    def _arm(self, loop: asyncio.AbstractEventLoop | None) -> tuple[UpdateWatcher, object] | None:
        """The kernel watch this waiter needs (``UpdateWatcher.arm``), with the
        watcher that armed it: a close during the wait must not skip the disarm."""
        hub = self._hub
        return None if hub is None else (hub, hub.arm(loop))

    def _disarm(
        self,
        armed: tuple[UpdateWatcher, object] | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if armed is None:
            return
        hub, token = armed
        if type(token) is LoopWaker and token.loop is loop and hub.alive:
            # The usual case, a wake-up in the waker's own loop: the count and
            # the time alone (only that loop changes them). Whether to unwatch
            # is decided later, off the wake path: the watcher thread looks
            # every 100 ms (UpdateWatcher._unwatch_idle); the woken coroutine
            # usually waits again long before.
            token.disarm()
        else:
            hub.disarm(token, loop)

    def mark(self) -> None:
        """The subscriber is about to read: drop the pending tick and remember the
        commit counter, so a wake-up for a commit this read will see anyway (its own
        ack, say) does not wake it again. Kernel backend in WAL mode only."""
        hub = self._hub
        if hub is None:
            return
        # Right after a wake-up in its own loop, the counter that wake-up was
        # confirmed at (no read of -shm): a commit since then at worst wakes
        # this subscriber once more, never less.
        counter = self._woke_at
        if counter is None:
            counter = hub.peek()
        else:
            self._woke_at = None
        # No lock (every claim runs this): a tick from the feed's thread that
        # this clears was fired after its commit became visible, so before
        # the read that follows: the read sees that commit.
        self._seen = counter
        if counter is not None:
            self._pending = False

    def generation(self) -> int:
        """The WAL-index change counter (kernel backend in WAL mode: it moves on
        every commit, so a read begun at a value covers every commit up to it,
        the same rule :meth:`mark` relies on), else ``2**32`` + the number of
        wake-ups the watcher has sent; -1 once unsubscribed."""
        hub = self._hub
        if hub is None:
            return -1
        counter = hub.peek()
        return (1 << 32) + hub.fires if counter is None else counter

    def busy(self) -> None:
        """A hint: this subscriber found work without waiting (see UpdateWatcher.busy)."""
        hub = self._hub
        if hub is not None and hub.backend == "kernel":
            hub.busy(asyncio._get_running_loop())

    def close(self) -> None:
        """Unsubscribe; later waits raise :class:`WatcherDiedError`."""
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.unsubscribe(self)
        self._die(WatcherDiedError(WATCHER_DIED))


# What UpdateWatcher.arm returns for a waiter the watcher thread must serve.
_THREAD_SERVED = object()


class UpdateWatcher:
    """The watcher thread for one database file and its subscribers.

    ``backend`` is ``"polling"``, ``"shm"`` or ``"kernel"`` (see
    :mod:`honker.backends.sqlite.watch.detectors`); the thread runs the backend's ``wait()`` in a
    loop, fires on every change it reports, and checks the file's identity
    every 100 ms.

    With the kernel backend, a coroutine waiting in an event loop is woken by
    that loop itself (:class:`~honker.backends.sqlite.watch.detectors.LoopWaker`, one per loop,
    armed only while someone waits), and the thread watches kernel events
    only while a waiter it must serve is blocked (``wait_sync``, or a loop
    without ``add_reader``); its safety check runs regardless.
    """

    def __init__(
        self,
        path: str,
        poll_interval_s: float,
        backend: str = "polling",
        on_checked: Callable[[os.stat_result, float], object] | None = None,
    ) -> None:
        self.path = path
        # Told (thread) what the path named at each identity check that found
        # the file in place, and when (time.monotonic()): FileGuard.checked.
        self._on_checked = on_checked
        self.backend = backend
        self._interval = poll_interval_s
        # Subscribers, held weakly (garbage collection unsubscribes). A tuple
        # replaced on each change, so a wake-up reads it without copying or
        # iterating a WeakSet (a dozen Python calls on the wake path).
        self._subs: tuple[weakref.ref[UpdateEvents], ...] = ()
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_r, self._stop_w = os.pipe()  # wakes a backend blocked in poll()
        os.set_blocking(self._stop_r, False)
        os.set_blocking(self._stop_w, False)
        # The kernel backend's commit check, shared by the thread and the loops.
        self._commits: _DataVersion | _ShmCounter | None = None
        self._wakers: dict[asyncio.AbstractEventLoop, LoopWaker] = {}
        self._thread_served = 0  # blocked waiters the thread must wake (kernel)
        self.fires = 0  # wake-ups sent so far (UpdateEvents.generation)
        self._fire_count = itertools.count(1)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._dead: BaseException | None = None
        # False once the watcher died (every way its thread ends sets _dead):
        # an attribute, read by every write (SQLiteBackend._begin).
        self.alive = True
        self._thread = threading.Thread(target=self._run, name="honker-update-poll", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._close_pipe()
            raise self._startup_error
        # The WAL-index change counter now (kernel backend in WAL mode), else
        # None: the counter's own method, read by every claim (UpdateEvents.mark).
        commits = self._commits
        self.peek: Callable[[], int | None] = (
            commits.peek if isinstance(commits, _ShmCounter) else _no_counter
        )

    # -- subscribers ----------------------------------------------------------
    def subscribe(self) -> UpdateEvents:
        sub = UpdateEvents(self)
        with self._subs_lock:
            if self._dead is None:
                live = tuple(ref for ref in self._subs if ref() is not None)
                self._subs = (*live, weakref.ref(sub))
                return sub
        sub._die(self._dead)
        return sub

    def unsubscribe(self, sub: UpdateEvents) -> None:
        with self._subs_lock:
            self._subs = tuple(
                ref for ref in self._subs if (other := ref()) is not None and other is not sub
            )

    # -- waiters (kernel backend) ---------------------------------------------
    def arm(self, loop: asyncio.AbstractEventLoop | None) -> object:
        """A subscriber starts waiting, in ``loop`` (None: a blocked thread).

        Returns what :meth:`disarm` takes back when the wait ends.
        """
        if self.backend != "kernel":
            return None  # the thread polls for everyone
        armed: object = _THREAD_SERVED
        nudge = False
        with self._subs_lock:
            if self._dead is not None or self._commits is None:
                return None
            waker = None if loop is None else self._waker_for(loop)
            started = True
            if waker is not None:
                try:
                    started = waker.arm()
                    armed = waker
                except (NotImplementedError, RuntimeError, OSError):
                    # A loop without add_reader, or no watch to be had: the thread serves it.
                    started = True
            if armed is _THREAD_SERVED:
                self._thread_served += 1
                nudge = self._thread_served == 1
        if nudge:
            self._nudge()
        if started:
            self._check_now()  # a commit made while nobody was watching
        return armed

    def _waker_for(self, loop: asyncio.AbstractEventLoop) -> LoopWaker | None:
        waker = self._wakers.get(loop)
        if waker is None:
            # A Database can outlive many loops (asyncio.run() after
            # asyncio.run()): drop the wakers of closed ones.
            for old in [w for w in self._wakers.values() if w.loop.is_closed()]:
                old.close()
                del self._wakers[old.loop]
            try:
                fire = functools.partial(self._fire, loop)
                waker = LoopWaker(self.path, loop, self._commits, fire)  # type: ignore[arg-type]
            except OSError:
                return None
            self._wakers[loop] = waker
            # Commits since the thread's baseline that nobody has fired yet.
            loop.call_soon(self._check_now)
        return waker

    def disarm(self, armed: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """A wait ended other than by a wake-up in its waker's own loop (which
        UpdateEvents._disarm handles itself): in a thread, cancelled, or the
        watcher died."""
        if armed is None:
            return
        with self._subs_lock:
            if armed is _THREAD_SERVED:
                self._thread_served -= 1
            elif isinstance(armed, LoopWaker):
                armed.disarm()
                if armed.armed == 0:
                    if armed.loop.is_closed():  # a coroutine finalised after its loop
                        self._unregister_locked(armed)
                    elif self._dead is not None:
                        armed.loop.call_soon(self._unregister, armed)  # and close it

    def busy(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """A subscriber in ``loop`` found work without waiting: if nobody in
        that loop waits, stop its watch now (a consumer working through a
        backlog never lets the loop run the idle timer)."""
        waker = self._wakers.get(loop) if loop is not None else None
        if waker is not None and waker.registered and waker.armed == 0:
            self._unregister(waker)

    def _unwatch_idle(self, now: float) -> None:
        """The thread, every 100 ms: ask each loop whose subscribers have not
        waited for UNWATCH_AFTER_S to drop its watch (it does so itself: a
        loop's selector is changed in its own thread only)."""
        with self._subs_lock:
            for waker in self._wakers.values():
                if (
                    waker.registered
                    and not waker.armed
                    and not waker.unregister_pending
                    and now - waker.disarmed_at >= UNWATCH_AFTER_S
                ):
                    try:
                        waker.loop.call_soon_threadsafe(self._unregister_idle, waker)
                    except RuntimeError:
                        continue  # closed: dropped with the next loop's waker, or at close
                    waker.unregister_pending = True

    def _unregister_idle(self, waker: LoopWaker) -> None:
        """In the waker's loop: unwatch if still nobody waits (see _unwatch_idle)."""
        with self._subs_lock:
            waker.unregister_pending = False
            if not waker.armed:
                self._unregister_locked(waker)

    def _unregister(self, waker: LoopWaker) -> None:
        with self._subs_lock:
            self._unregister_locked(waker)

    def _unregister_locked(self, waker: LoopWaker) -> None:
        waker.unregister()
        if self._dead is not None and not waker.registered:
            waker.close()

    def _check_now(self) -> None:
        commits = self._commits
        if commits is not None and self._dead is None and commits.changed():
            self._fire()

    def _nudge(self) -> None:
        try:
            os.write(self._stop_w, b"n")
        except (BlockingIOError, OSError):
            pass  # full (the thread will wake) or closed

    def _fire(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Tick every subscriber; ``loop``: the event loop this runs in (a
        LoopWaker's), None from the watcher thread or when not known."""
        commits = self._commits
        # What this wake-up stands for: commits up to this counter value (a
        # subscriber whose read began at that value skips it; UpdateEvents.mark).
        counter = None if commits is None else commits.seen
        # No lock: the count is a fresh value per wake-up (never repeated, so
        # UpdateEvents.generation changes with each), the tuple is replaced,
        # never changed.
        self.fires = next(self._fire_count)
        for ref in self._subs:
            sub = ref()
            if sub is not None:
                sub._tick(counter, loop)

    def _kill_all(self, error: BaseException) -> None:
        with self._subs_lock:
            self._dead = error
            self.alive = False
            subs = [sub for sub in (ref() for ref in self._subs) if sub is not None]
            self._subs = ()
            for waker in self._wakers.values():
                # A waker still registered in a running loop is closed there
                # (by _unregister, after its last waiter leaves).
                loop = waker.loop
                if loop.is_closed() or not loop.is_running() or loop is asyncio._get_running_loop():
                    waker.unregister()
                elif waker.armed == 0:  # idle, its unwatch timer maybe far off
                    try:
                        loop.call_soon_threadsafe(self._unregister, waker)
                    except RuntimeError:
                        pass  # closed meanwhile
                if not waker.registered or loop.is_closed():
                    waker.close()
            self._wakers = {}
        for sub in subs:
            sub._die(error)

    def close(self) -> None:
        """Stop and join the thread; every subscriber sees the watcher die."""
        self._stop.set()
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._kill_all(WatcherDiedError(WATCHER_DIED))
        self._close_pipe()

    def _close_pipe(self) -> None:
        # A pipe, not a database file: closing it cannot drop SQLite's locks.
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stop_r = self._stop_w = -1

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:

        try:
            if self.backend == "kernel":
                self._commits = commit_counter(self.path)
            detector = make_detector(
                self.backend,
                self.path,
                self._interval,
                self._stop_r,
                self._commits,
                lambda: self._thread_served > 0,
            )
        except BaseException as exc:  # noqa: BLE001  handed to the spawner, which re-raises it
            if self._commits is not None:
                self._commits.close()
            self._startup_error = exc
            self._ready.set()
            return
        try:
            st = os.stat(self.path)
            identity = (st.st_dev, st.st_ino)
        except BaseException as exc:  # noqa: BLE001  handed to the spawner, which re-raises it
            detector.close()
            if self._commits is not None:
                self._commits.close()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(detector, identity)
        except _FileReplaced as exc:
            log.error("%s", exc)
            self._kill_all(WatcherDiedError(WATCHER_DIED))
        except BaseException:
            log.exception("honker update watcher crashed")
            self._kill_all(WatcherDiedError(WATCHER_DIED))
        finally:
            detector.close()
            if self._commits is not None:
                self._commits.close()

    def _loop(self, detector: Detector, identity: tuple[int, int]) -> None:
        stop, fire, monotonic = self._stop, self._fire, time.monotonic
        next_identity_check = monotonic() + IDENTITY_CHECK_S
        while not stop.is_set():
            if detector.wait():
                fire()
            now = monotonic()
            if now < next_identity_check:
                continue
            next_identity_check = now + IDENTITY_CHECK_S
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                # Deleted: unlike honker (which only wakes), die, so waiting
                # iterators stop instead of working on a file nobody can reopen
                # (tests/sqlite/reliability/test_faults.py::
                # test_file_deleted_under_a_running_worker).
                raise _FileReplaced(
                    f"honker: database file deleted: {_rust_debug(self.path)}. The watcher "
                    "cannot recover; close the Database and reopen with honker.open()."
                ) from None
            except OSError as exc:
                log.warning("update watcher cannot stat %s: %s", self.path, exc)
                detector.reset()
                fire()  # conservative wake
                continue
            if (st.st_dev, st.st_ino) != identity:
                raise _FileReplaced(
                    f"honker: database file replaced: expected (dev={identity[0]}, "
                    f"ino={identity[1]}), found (dev={st.st_dev}, ino={st.st_ino}) at "
                    f"{_rust_debug(self.path)}. The watcher cannot recover; close the "
                    "Database and reopen with honker.open()."
                )
            if self._on_checked is not None:
                self._on_checked(st, now)
            if self._wakers:
                self._unwatch_idle(now)
            if detector.housekeeping():
                fire()


def _no_counter() -> None:
    return None


class _FileReplaced(Exception):
    pass
