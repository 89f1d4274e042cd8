"""How the update watcher notices commits: the three backends (docs/spec/engine.md §8).

Each backend is a *detector*: the watcher thread calls ``wait()`` in a loop
and fires a tick whenever it returns True ("something committed since the last
call"); ``housekeeping()`` runs every 100 ms beside the file-identity check.

- ``polling``: ``PRAGMA data_version`` on a private connection every
  ``poll_interval`` (1 ms). honker's default. Works everywhere; costs CPU
  while idle and up to one interval of latency.
- ``shm``: the WAL-index change counter (``iChange``, offset 8 of ``-shm``)
  read with ``pread`` every ``poll_interval``. WAL mode only.
- ``kernel``: inotify on the database's directory. Sleeps until the kernel
  reports a write to the database, ``-wal`` or ``-journal``, then confirms the
  commit with the WAL-index change counter (one ``pread`` of ``-shm``; ``PRAGMA
  data_version`` when the file is not in WAL mode). A WAL write becomes a
  visible commit a few microseconds later, so it re-checks briefly; a safety
  check every 100 ms means a dropped event can delay a wake but never lose it.
  A coroutine waiting in an event loop is woken by that loop itself
  (:class:`LoopWaker`), without a hop through the watcher thread.

The default (``watcher_backend=None``) is ``kernel`` where inotify works and
``polling`` elsewhere: the kernel backend wakes in well under a millisecond at
near-zero idle CPU, and its confirmation makes it exactly as correct as
polling.
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ...._errors import DatabaseError, ProbeError
from . import inotify as _inotify
from . import shmfd as _shmfd

log = logging.getLogger("honker.watcher")

SAFETY_POLL_S = 0.1
# After a kernel event, how long to keep checking for the commit it announced
# (a writer updates the WAL index just after writing its frames, but on a
# loaded machine "just after" can be a while): back-to-back checks first,
# then short sleeps, then 1 ms sleeps, giving up after CONFIRM_FOR_S. A commit
# that becomes visible even later is still caught by the safety check.
CONFIRM_SPIN_S = 0.0003
CONFIRM_SHORT_S = 0.003
CONFIRM_FOR_S = 0.02
# After a wake, pause this long before looking at the next events: subscribers
# in this process need the GIL to run, and the events of one commit arrive as
# a burst that is better read at once.
AFTER_WAKE_PAUSE_S = 0.001
WAL_INDEX_VERSION = 3007000
_SHM_HEADER = struct.Struct("=III")  # iVersion, unused, iChange (native endianness)
_CHANGE = struct.Struct("=I")  # iChange alone, at offset 8


def _probe_failed(reason: str) -> ProbeError:
    return ProbeError(f"watcher_backend probe failed: {reason}")


class Detector:
    """Base class: how the watcher thread learns that something committed."""

    def wait(self) -> bool:
        """Block until the next check is due; True if a commit was seen."""
        raise NotImplementedError

    def housekeeping(self) -> bool:
        """Called every 100 ms; True to fire a conservative wake."""
        return False

    def reset(self) -> None:
        """Drop cached state after an error (re-baseline without waking)."""

    def close(self) -> None:
        """Release what the detector holds."""


class _DataVersion:
    """``PRAGMA data_version`` on a private autocommit connection.

    The connection must be separate: a connection's own commits never change
    its own data_version. Opened like honker's: ``mode=rw`` (no CREATE), no
    PRAGMAs, so SQLITE_BUSY is reported at once and simply retried.
    """

    seen: int | None = None  # no counter to tell which commit a wake-up stands for

    def __init__(self, path: str) -> None:
        self.path = path
        # The watcher thread and the loops of the kernel backend's fast path
        # share one instance: whoever sees a change first fires it, once.
        self._lock = threading.Lock()
        self._closed = False
        self.conn: sqlite3.Connection | None = self._connect()
        self.version = self._read(self.conn)

    def _connect(self) -> sqlite3.Connection:
        uri = "file:" + quote(self.path) + "?mode=rw"
        return sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=0
        )

    @staticmethod
    def _read(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """True if a commit happened since the last call (or on an error)."""
        with self._lock:
            return self._changed()

    def _changed(self) -> bool:
        if self._closed:
            return False
        conn = self.conn
        if conn is None:
            try:
                conn = self.conn = self._connect()
                self.version = self._read(conn)
            except sqlite3.Error:
                self.conn = None
            return False
        try:
            version = self._read(conn)
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", "") or ""
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                return False  # retried next time; re-baselining would lose a wake
            log.warning("update watcher poll failed: %s", exc)
            self.reset()
            return True  # conservative wake
        if version != self.version:
            self.version = version
            return True
        return False

    def housekeeping(self) -> bool:
        return False

    def reset(self) -> None:
        """Drop the connection after an error; the next call reconnects."""
        with self._lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def close(self) -> None:
        """For good: later calls report no change and open nothing."""
        with self._lock:
            self._closed = True
            if self.conn is not None:
                self.conn.close()
                self.conn = None


class PollingDetector(Detector):
    """honker's default: ``PRAGMA data_version`` every ``interval`` seconds."""

    def __init__(self, path: str, interval: float) -> None:
        self._interval = interval
        self._dv = _DataVersion(path)

    def wait(self) -> bool:
        time.sleep(self._interval)
        return self._dv.changed()

    def reset(self) -> None:
        self._dv.reset()

    def close(self) -> None:
        self._dv.close()


def _read_shm_header(fd: int) -> tuple[int, int]:
    data = os.pread(fd, _SHM_HEADER.size, 0)
    if len(data) < _SHM_HEADER.size:
        raise OSError(f"short read ({len(data)} bytes)")
    version, _, change = _SHM_HEADER.unpack(data)
    return version, change


def probe_shm(path: str) -> None:
    """Raise honker's probe error if the shm backend cannot work for ``path``."""
    if sys.byteorder != "little":
        raise _probe_failed("shm-fast-path requires little-endian platform")
    shm = path + "-shm"
    try:
        key, fd = _shmfd.acquire(shm)
    except OSError as exc:
        raise _probe_failed(
            f"-shm unavailable ({exc}). WAL mode + open connection required."
        ) from None
    try:
        try:
            version, _ = _read_shm_header(fd)
        except OSError as exc:
            raise _probe_failed(f"-shm too small or unreadable: {exc}") from None
        if version != WAL_INDEX_VERSION:
            raise _probe_failed(
                f"WAL index version {version} != {WAL_INDEX_VERSION} (unsupported SQLite layout)"
            )
    finally:
        _shmfd.release(key)


class _ShmCounter:
    """The WAL-index change counter (``iChange``, offset 8 of ``-shm``).

    Every commit in WAL mode increments it, so a changed value means a commit
    (docs/spec/engine.md §8.4). Semantics:
    - read with ``pread`` (never mmap: a shrinking file cannot SIGBUS us),
      through the process-wide descriptor registry of :mod:`honker.backends.sqlite.watch.shmfd`,
      which never closes a descriptor of a live inode;
    - a recreated ``-shm`` (new inode, seen by :meth:`housekeeping`) is
      re-acquired, re-baselined, and reported as a change;
    - thread-safe, like :class:`_DataVersion`, for the same reason (reads
      without a lock: see :meth:`changed`).
    """

    def __init__(self, path: str) -> None:
        self._shm = path + "-shm"
        self._lock = threading.Lock()
        self._closed = False
        self._key: tuple[int, int] | None = None
        self._fd = -1
        # The counter's value at the last :meth:`changed` (what a wake-up stands for).
        self.seen: int | None = 0
        self._attach()

    def _attach(self) -> None:
        key, fd = _shmfd.acquire(self._shm)
        if self._key is not None:
            _shmfd.release(self._key)
        self._key, self._fd = key, fd
        self.seen = self._read()

    def _read(self) -> int:
        return _read_shm_header(self._fd)[1]

    def peek(self) -> int | None:
        """The counter now, without moving :meth:`changed`'s baseline (None on an error)."""
        if self._closed:
            return None
        try:  # no lock: see changed()
            return _CHANGE.unpack_from(os.pread(self._fd, _SHM_HEADER.size, 0), 8)[0]  # type: ignore[no-any-return]
        except (OSError, struct.error):
            return None

    def changed(self) -> bool:
        """True if a commit happened since the last call (or on an error).

        The read and the compare take no lock (they run on every wake-up, in
        an event loop and in the watcher thread). Every caller that reads a
        value other than the baseline reports it, so no commit goes
        unreported; two callers racing can both report one commit (a
        spurious wake-up, which subscribers tolerate), and in the rarest
        interleaving (one descheduled between its read and its store) leave
        an older baseline, so that the wake-up carries that older value and
        a subscriber whose read began there skips it: the next check (the
        next file event, or the watcher's safety check within 100 ms) then
        reports the commit again. Re-attaching after an error, and closing,
        hold the lock.
        """
        if self._closed:
            return False
        try:
            change = _CHANGE.unpack_from(os.pread(self._fd, _SHM_HEADER.size, 0), 8)[0]
        except (OSError, struct.error):  # struct.error: a short read
            with self._lock:
                if self._closed:
                    return False
                self._reattach()
            return True
        if change != self.seen:
            self.seen = change
            return True
        return False

    def housekeeping(self) -> bool:
        """Called every 100 ms: True (and re-attached) if ``-shm`` was recreated."""
        with self._lock:
            if self._closed:
                return False
            try:
                st = os.stat(self._shm)
            except OSError:
                return True  # conservative wake; the next read re-attaches
            if (st.st_dev, st.st_ino) != self._key:
                self._reattach()
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._reattach()

    def _reattach(self) -> None:
        try:
            self._attach()
        except OSError as exc:
            log.warning("watcher cannot re-attach to %s: %s", self._shm, exc)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._key is not None:
                _shmfd.release(self._key)
                self._key = None


class ShmDetector(Detector):
    """Reads the WAL-index change counter of ``-shm`` every ``interval``.

    A quiet read-only *keeper* connection stays open for the watcher's
    lifetime, so other connections closing cannot delete or truncate ``-shm``
    under it; the counter itself is :class:`_ShmCounter`.
    """

    def __init__(self, path: str, interval: float) -> None:
        probe_shm(path)
        self._interval = interval
        uri = "file:" + quote(path) + "?mode=ro"
        self._keeper = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            self._keeper.execute("PRAGMA schema_version").fetchone()  # maps the WAL index
            self._counter = _ShmCounter(path)
        except BaseException:
            self._keeper.close()
            raise

    def wait(self) -> bool:
        time.sleep(self._interval)
        return self._counter.changed()

    def housekeeping(self) -> bool:
        return self._counter.housekeeping()

    def reset(self) -> None:
        self._counter.reset()

    def close(self) -> None:
        self._counter.close()
        self._keeper.close()


def commit_counter(path: str) -> _DataVersion | _ShmCounter:
    """What the kernel backend confirms commits with: the ``-shm`` counter in
    WAL mode (one ``pread``), else ``PRAGMA data_version``.

    WAL mode cannot be left while we hold connections to the file, so the
    choice made here holds for the watcher's life.
    """
    dv = _DataVersion(path)
    try:
        mode = dv.conn.execute("PRAGMA journal_mode").fetchone()[0] if dv.conn else ""
    except sqlite3.Error:
        return dv
    if str(mode).lower() != "wal" or sys.byteorder != "little":
        return dv
    try:
        counter = _ShmCounter(path)
    except OSError:
        return dv
    try:
        version_ok = _read_shm_header(counter._fd)[0] == WAL_INDEX_VERSION
    except OSError:
        version_ok = False
    if not version_ok:
        counter.close()
        return dv
    dv.close()
    return counter


def probe_kernel(path: str) -> None:
    """Raise honker's probe error if the kernel backend cannot work here."""
    try:
        ino = _inotify.Inotify()
    except OSError as exc:
        raise _probe_failed(f"notify init failed: {exc}") from None
    try:
        directory = os.path.dirname(os.path.abspath(path))
        try:
            ino.add_watch(directory, _inotify.DIR_MASK)
        except OSError as exc:
            raise _probe_failed(f"can't watch {directory}: {exc}") from None
    finally:
        ino.close()


class DirEvents:
    """An inotify instance on the database's directory, filtered to our files.

    One directory watch reports writes to every file in it, including a
    ``-wal`` or ``-journal`` created later, so nothing needs re-attaching.

    The watch itself is made by :meth:`start` and dropped by :meth:`stop`:
    while it exists, the kernel does work in *every* process writing to the
    directory, on every ``write()`` (each WAL frame of each commit: measured
    at 15-25 µs per claim + ack cycle per unread watch on a small VM, issue
    15), so it exists only while someone waits for a commit.
    """

    def __init__(self, path: str) -> None:
        self._ino = _inotify.Inotify()
        self._dir = os.path.dirname(os.path.abspath(path))
        self._wd: int | None = None
        base = os.fsencode(os.path.basename(path))
        self._names = {base, base + b"-wal", base + b"-journal"}
        self.fd = self._ino.fd

    @property
    def watching(self) -> bool:
        return self._wd is not None

    def start(self) -> None:
        """Watch the directory (idempotent). Commits made before this are not
        reported: the caller checks the commit counter after starting."""
        if self._wd is None:
            self._wd = self._ino.add_watch(self._dir, _inotify.DIR_MASK)

    def stop(self) -> None:
        """Drop the watch (idempotent) and the events already queued."""
        wd, self._wd = self._wd, None
        if wd is not None:
            try:
                self._ino.rm_watch(wd)
            except OSError:
                pass  # the directory went away: the kernel dropped the watch
        self._ino.read_names(self._names)

    def relevant(self) -> bool:
        """Consume the queued events; True if one names the database, its
        ``-wal`` or ``-journal`` (or the queue overflowed)."""
        return self._ino.read_names(self._names)

    def names_ours(self, data: bytes) -> bool:
        """:meth:`relevant` for events already read (raw, from :attr:`fd`)."""
        return _inotify.names_in(data, self._names)

    def close(self) -> None:
        self._ino.close()


class KernelDetector(Detector):
    """inotify on the database's directory, confirmed with the commit check.

    Only events naming the database, ``-wal`` or ``-journal`` (or a queue
    overflow) trigger a confirmation; the confirmation, not the event, decides
    whether to wake, so a rollback or another file's write does not wake.

    The thread watches events only while ``want_events()`` says a waiter
    needs it (a thread blocked in ``wait_sync``, or a loop that cannot watch
    for itself); asyncio waiters are woken by :class:`LoopWaker` in their own
    loop. Either way the safety check runs every SAFETY_POLL_S. Writing to
    ``stop_fd`` wakes the thread to re-read ``want_events()``.
    """

    def __init__(
        self,
        path: str,
        stop_fd: int,
        commits: _DataVersion | _ShmCounter,
        want_events: Callable[[], bool],
    ) -> None:
        probe_kernel(path)
        self._events = DirEvents(path)
        self._commits = commits
        self._want_events = want_events
        self._watching = False
        self._poll = select.poll()
        self._poll.register(stop_fd, select.POLLIN)
        self._stop_fd = stop_fd
        self._pending = False
        self._safety_at = time.monotonic() + SAFETY_POLL_S

    def _follow_wants(self) -> bool:
        """Start or stop watching as waiters need; True when the watch just started."""
        want = self._want_events()
        if want == self._watching:
            return False
        if want:
            self._events.start()
            self._poll.register(self._events.fd, select.POLLIN)
        else:
            self._poll.unregister(self._events.fd)
            self._events.stop()
        self._watching = want
        return want

    def wait(self) -> bool:
        if self._pending:
            self._pending = False
            time.sleep(AFTER_WAKE_PAUSE_S)
        if self._follow_wants() and self._check():
            return True  # committed after the waiter's own check, before the watch
        ready = self._poll.poll(max(0.0, self._safety_at - time.monotonic()) * 1000)
        for fd, _ in ready:
            if fd == self._stop_fd:
                _drain(fd)
                return False
        if ready and self._events.relevant():
            self._pending = self._confirm()
            if self._pending:
                return True
        # The safety check is due every SAFETY_POLL_S whatever events arrive:
        # a busy directory (a log file, another database) must not postpone
        # it forever. Guarded by test_wake_kernel.py::
        # test_a_commit_published_late_wakes_even_when_the_directory_is_busy.
        if time.monotonic() >= self._safety_at:
            return self._check()
        return False

    def _check(self) -> bool:
        """A commit since the last check? Any check postpones the safety check."""
        self._safety_at = time.monotonic() + SAFETY_POLL_S
        return self._commits.changed()

    def housekeeping(self) -> bool:
        return self._commits.housekeeping()

    def _confirm(self) -> bool:
        check, clock = self._check, time.monotonic
        start = clock()
        while True:
            if check():
                return True
            elapsed = clock() - start
            if elapsed >= CONFIRM_FOR_S:
                return False
            if elapsed >= CONFIRM_SHORT_S:
                time.sleep(0.001)
            elif elapsed >= CONFIRM_SPIN_S:
                time.sleep(0.00005)

    def reset(self) -> None:
        self._commits.reset()

    def close(self) -> None:
        self._events.close()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


class LoopWaker:
    """The kernel backend's fast path for one asyncio event loop.

    While a subscriber of this loop waits, the loop itself watches an inotify
    instance of its own (``loop.add_reader``) and confirms with the shared
    commit check (see :func:`commit_counter`), then fires. A commit thus wakes a waiting
    coroutine with one thread wake-up instead of two (watcher thread, then
    loop): about 0.1 ms less on a small VM. A confirmation that finds nothing
    yet is retried from the loop (on every iteration for CONFIRM_SPIN_S, then
    every millisecond up to CONFIRM_FOR_S, and at once on each further event);
    the watcher thread's safety check covers a commit that shows even later.

    Used from the loop's thread only (``arm``/``disarm`` around each wait);
    the owner closes it once it is disarmed.
    """

    def __init__(
        self,
        path: str,
        loop: Any,
        commits: _DataVersion | _ShmCounter,
        fire: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.armed = 0
        self.registered = False
        self.closed = False
        self.unregister_pending = False
        self.disarmed_at = 0.0
        self._events = DirEvents(path)
        self._fd = self._events.fd
        self._commits = commits
        self._fire = fire
        self._confirm_from: float | None = None  # loop.time() of the last unconfirmed event

    def arm(self) -> bool:
        """A subscriber starts waiting (may raise NotImplementedError).

        True when the watch was (re)started: commits made while it was off
        were not reported, and the owner checks the commit counter."""
        started = False
        if not self.registered:
            self._events.start()
            try:
                self.loop.add_reader(self._events.fd, self._ready)
            except BaseException:
                self._events.stop()
                raise
            self.registered = True
            started = True
        self.armed += 1
        return started

    def disarm(self) -> None:
        """A subscriber stopped waiting. The watch stays until :meth:`unregister`
        (run by the owner once nobody has waited for a while, or at once when
        a subscriber reports it is busy), keeping system calls and timers off
        the wake path and out of a consumer that waits between every job."""
        self.disarmed_at = time.monotonic()  # first: the watcher thread reads both
        self.armed -= 1

    def unregister(self) -> None:
        """Stop watching if nobody waits (loop thread, or the loop not running)."""
        if self.armed == 0 and self.registered:
            self.registered = False
            if not self.loop.is_closed():
                self.loop.remove_reader(self._events.fd)
            self._events.stop()
            self._confirm_from = None

    def _ready(self) -> None:
        # The commit check first: the usual event is a commit's, already
        # visible, and then the events' names need not be decoded (a commit
        # is a commit, whichever event came with it).
        try:  # Inotify.read_raw(), inline: this runs on every wake-up
            events = os.read(self._fd, 4096)
        except BlockingIOError:
            events = b""
        if self._commits.changed():
            self._confirm_from = None
            self._fire()
            return
        if not self._events.names_ours(events):
            return  # another file's write, or nothing queued
        # A write of ours not visible yet: keep looking (_confirm).
        confirming = self._confirm_from is not None
        self._confirm_from = self.loop.time()
        if not confirming:
            self.loop.call_soon(self._confirm)

    def _confirm(self) -> None:
        if self.closed or self._confirm_from is None:
            return
        if self._commits.changed():
            self._confirm_from = None
            self._fire()
            return
        # The writer wrote its frames but has not published the commit yet
        # (it can be descheduled in between): look again on every loop
        # iteration for CONFIRM_SPIN_S (the loop's timers cannot wait less
        # than a millisecond), then every millisecond; each further write
        # of the commit also looks at once (_ready).
        elapsed = self.loop.time() - self._confirm_from
        if elapsed >= CONFIRM_FOR_S:
            self._confirm_from = None
        elif elapsed < CONFIRM_SPIN_S:
            self.loop.call_soon(self._confirm)
        else:
            self.loop.call_later(0.001, self._confirm)

    def close(self) -> None:
        self.closed = True
        self._events.close()


def kernel_available() -> bool:
    return sys.platform.startswith("linux")


def default_backend(path: str) -> str:
    """The backend ``watcher_backend=None`` picks: kernel where it works."""
    if kernel_available():
        try:
            probe_kernel(path)
            return "kernel"
        except DatabaseError:
            pass
    return "polling"


def probe(backend: str, path: str) -> None:
    """Fail at ``open()`` if an explicitly requested backend cannot work."""
    if backend == "shm":
        probe_shm(path)
    elif backend == "kernel":
        if not kernel_available():
            raise _probe_failed(
                "kernel-watcher is implemented with inotify (Linux); this platform has none"
            )
        probe_kernel(path)


def make_detector(
    backend: str,
    path: str,
    interval: float,
    stop_fd: int,
    commits: _DataVersion | _ShmCounter | None = None,
    want_events: Callable[[], bool] = lambda: True,
) -> Detector:
    if backend == "shm":
        return ShmDetector(path, interval)
    if backend == "kernel":
        return KernelDetector(path, stop_fd, commits or commit_counter(path), want_events)
    return PollingDetector(path, interval)
