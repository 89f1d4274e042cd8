"""How the update watcher notices commits: the three backends (engine.md §8).

Each backend is a *detector*: the watcher thread calls ``wait()`` in a loop
and fires a tick whenever it returns True ("something committed since the last
call"); ``housekeeping()`` runs every 100 ms beside the file-identity check.

- ``polling``: ``PRAGMA data_version`` on a private connection every
  ``poll_interval`` (1 ms). honker's default. Works everywhere; costs CPU
  while idle and up to one interval of latency.
- ``shm``: the WAL-index change counter (``iChange``, offset 8 of ``-shm``)
  read with ``pread`` every ``poll_interval``. WAL mode only.
- ``kernel``: inotify on the database's directory. Sleeps in ``poll(2)``
  until the kernel reports a write to the database, ``-wal`` or ``-journal``,
  then confirms the commit with ``PRAGMA data_version`` (a WAL write becomes
  a visible commit a few microseconds later, so it re-checks briefly), and
  keeps a safety check every 100 ms so that a dropped event can delay a
  wake but never lose it. Any journal mode.

The default (``watcher_backend=None``) is ``kernel`` where inotify works and
``polling`` elsewhere: the kernel backend wakes in well under a millisecond at
near-zero idle CPU, and its data_version confirmation makes it exactly as
correct as polling.
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import struct
import sys
import time
from urllib.parse import quote

from . import _inotify, _shmfd
from ._errors import DatabaseError

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


class ProbeError(DatabaseError):
    """The requested watcher backend cannot work for this database here."""


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

    def __init__(self, path: str) -> None:
        self.path = path
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

    def reset(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    close = reset


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


class ShmDetector(Detector):
    """Reads the WAL-index change counter of ``-shm`` every ``interval``.

    Semantics (engine.md §8.4):
    - a quiet read-only *keeper* connection stays open for the watcher's
      lifetime, so other connections closing cannot delete or truncate
      ``-shm`` under it;
    - the header is read with ``pread`` (never mmap: a shrinking file cannot
      SIGBUS us), through the process-wide descriptor registry of
      :mod:`honker._shmfd`, which never closes a descriptor of a live inode;
    - a recreated ``-shm`` (new inode) is re-acquired, re-baselined, and wakes.
    """

    def __init__(self, path: str, interval: float) -> None:
        probe_shm(path)
        self._interval = interval
        self._shm = path + "-shm"
        uri = "file:" + quote(path) + "?mode=ro"
        self._keeper = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self._keeper.execute("PRAGMA schema_version").fetchone()  # maps the WAL index
        self._key: tuple[int, int] | None = None
        self._fd = -1
        self._change = 0
        self._attach()

    def _attach(self) -> None:
        key, fd = _shmfd.acquire(self._shm)
        if self._key is not None:
            _shmfd.release(self._key)
        self._key, self._fd = key, fd
        self._change = _read_shm_header(fd)[1]

    def wait(self) -> bool:
        time.sleep(self._interval)
        try:
            change = _read_shm_header(self._fd)[1]
        except OSError:
            self.reset()
            return True
        if change != self._change:
            self._change = change
            return True
        return False

    def housekeeping(self) -> bool:
        try:
            st = os.stat(self._shm)
        except OSError:
            return True  # conservative wake; the next read re-attaches
        if (st.st_dev, st.st_ino) != self._key:
            self.reset()
            return True
        return False

    def reset(self) -> None:
        try:
            self._attach()
        except OSError as exc:
            log.warning("shm watcher cannot re-attach to %s: %s", self._shm, exc)
            time.sleep(0.01)

    def close(self) -> None:
        if self._key is not None:
            _shmfd.release(self._key)
            self._key = None
        self._keeper.close()


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


class KernelDetector(Detector):
    """inotify on the database's directory, confirmed with ``data_version``.

    One directory watch reports writes to every file in it, including a
    ``-wal`` or ``-journal`` created later, so nothing needs re-attaching.
    Only events naming the database, ``-wal`` or ``-journal`` (or a queue
    overflow) trigger a confirmation; the confirmation, not the event, decides
    whether to wake, so a rollback or another file's write does not wake.
    """

    def __init__(self, path: str, stop_fd: int) -> None:
        probe_kernel(path)
        self._ino = _inotify.Inotify()
        base = os.path.basename(path)
        self._names = {base, base + "-wal", base + "-journal"}
        self._ino.add_watch(os.path.dirname(os.path.abspath(path)), _inotify.DIR_MASK)
        self._dv = _DataVersion(path)
        self._poll = select.poll()
        self._poll.register(self._ino.fd, select.POLLIN)
        self._poll.register(stop_fd, select.POLLIN)
        self._stop_fd = stop_fd
        self._pending = False
        self._safety_at = time.monotonic() + SAFETY_POLL_S

    def _relevant(self) -> bool:
        hit = False
        for _wd, mask, name in self._ino.read():
            if mask & _inotify.IN_Q_OVERFLOW or name in self._names:
                hit = True
        return hit

    def wait(self) -> bool:
        if self._pending:
            self._pending = False
            time.sleep(AFTER_WAKE_PAUSE_S)
        ready = self._poll.poll(max(0.0, self._safety_at - time.monotonic()) * 1000)
        if any(fd == self._stop_fd for fd, _ in ready):
            return False
        if ready and self._relevant():
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
        """``data_version`` changed? Any check postpones the safety check."""
        self._safety_at = time.monotonic() + SAFETY_POLL_S
        return self._dv.changed()

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
        self._dv.reset()

    def close(self) -> None:
        self._dv.close()
        self._ino.close()


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


def make_detector(backend: str, path: str, interval: float, stop_fd: int) -> Detector:
    if backend == "shm":
        return ShmDetector(path, interval)
    if backend == "kernel":
        return KernelDetector(path, stop_fd)
    return PollingDetector(path, interval)
