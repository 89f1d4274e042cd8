"""Guards on the database file itself, run by the writer.

Two things SQLite does not do for us:

- **The path must still name the file we opened.** A deleted or renamed-over
  database stays open and writable through our connection, so commits would
  go to a file nobody can open again: committed work silently lost.
- **The ``-wal`` must stay bounded** under readers and writers that always
  overlap (see the policy comment below).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

from ..._errors import DatabaseReplacedError

log = logging.getLogger("honker.database")

# Keeping the -wal file bounded (docs/guarantees.md, "WAL checkpoints").
# SQLite's automatic checkpoint (wal_autocheckpoint, PASSIVE) copies only the
# frames no reader still needs, and the -wal is rewritten from its start only
# once a checkpoint got through all of it: with readers and writers always
# overlapping (a busy web app, several worker processes) that never happens
# and the file grows without bound (guarded by
# tests/sqlite/reliability/test_wal.py::test_wal_stays_bounded_under_constant_readers).
# So, at most every WAL_CHECK_EVERY_S after a commit, the writer looks at the
# file's size and past WAL_TRUNCATE_PAGES pages runs TRUNCATE checkpoints
# until one gets through (readers have moved to the newest snapshot) and
# empties the file, for at most WAL_CHECKPOINT_FOR_S. Each try is made with no
# busy timeout and the next one a millisecond later, because SQLite's own busy
# wait keeps retrying one reader's lock with growing sleeps and a reader in a
# tight loop holds it nearly all the time; a new try re-reads where readers
# are. A reader that keeps one read transaction open longer than that (or is
# descheduled in the middle of one) pins the -wal; the writer then tries
# again after a delay that doubles from WAL_RETRY_MIN_S to WAL_RETRY_MAX_S,
# and logs a warning once the delay reaches a second.
WAL_TRUNCATE_PAGES = 15000
WAL_FRAME_HEADER = 24
WAL_CHECK_EVERY_S = 0.1
WAL_CHECKPOINT_FOR_S = 0.25
WAL_CHECKPOINT_PAUSE_S = 0.001
WAL_RETRY_MIN_S = 0.1
WAL_RETRY_MAX_S = 5.0
# How often a write transaction re-checks that the path still names the file
# the writer has open (see FileGuard.check).
FILE_CHECK_EVERY_S = 0.1
# Both checks are usually made off the write path (FileGuard.checked): by the
# update watcher's thread, which looks at the file every 100 ms anyway, or,
# in a process that writes but never waits (no watcher), by a thread of the
# guard's own that looks every CHECKER_EVERY_S. A stat call of a file not
# touched for a while costs ~40 µs on a small VM, in front of every enqueue
# a few hundred milliseconds apart. That thread starts after a write that had
# to look itself and ends once CHECKER_IDLE_S pass without a write.
CHECKER_EVERY_S = 0.09
CHECKER_IDLE_S = 10.0


class FileGuard:
    """The writer's checks on its file; made by :meth:`watch` after ``open()``."""

    __slots__ = (
        "path",
        "identity",
        "wal_path",
        "wal_limit",
        "_busy_timeout_ms",
        "file_check_at",
        "wal_check_at",
        "_wal_retry_s",
        "wrote",
        "_checker",
        "_checker_stop",
        "_checker_lock",
        "_checker_closed",
    )

    def __init__(
        self, path: str, identity: tuple[int, int], page_size: int, busy_timeout_ms: int
    ) -> None:
        self.path = path
        self.identity = identity
        self.wal_path = path + "-wal"
        self.wal_limit = WAL_TRUNCATE_PAGES * (page_size + WAL_FRAME_HEADER)
        self._busy_timeout_ms = busy_timeout_ms
        # time.monotonic() at which check() and bound_wal() next have work:
        # the writer reads them to skip the call until then.
        self.file_check_at = 0.0
        self.wal_check_at = 0.0
        self._wal_retry_s = WAL_RETRY_MIN_S
        # The checker thread (see CHECKER_EVERY_S): the writer sets ``wrote``
        # on each commit, the thread clears it and ends when it stays clear.
        self.wrote = False
        self._checker: threading.Thread | None = None
        self._checker_stop: threading.Event | None = None
        self._checker_lock = threading.Lock()
        self._checker_closed = False

    @classmethod
    def watch(cls, conn: sqlite3.Connection, path: str, busy_timeout_ms: int) -> FileGuard | None:
        """Remember what ``path`` names now; None when there is no file to watch."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None  # ":memory:", a temporary database: nothing to watch
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        return cls(path, (st.st_dev, st.st_ino), page_size, busy_timeout_ms)

    def check(self, *, watcher_died: bool) -> None:
        """Refuse to write once the path no longer names the file we have open.

        A deleted or renamed-over database stays open and writable through
        this connection, so commits would go to a file nobody can open again:
        committed work silently lost. Checked at most every
        ``FILE_CHECK_EVERY_S``, and on every write once the update watcher
        has died (it notices a replaced file first) (guarded by
        tests/sqlite/reliability/test_faults.py::test_file_replaced_under_a_running_worker).
        """
        now = time.monotonic()
        if now < self.file_check_at and not watcher_died:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise DatabaseReplacedError(
                f"database file {self.path!r} was deleted after honker.open(); refusing to "
                "write to the unlinked file. Close the Database and reopen with honker.open()."
            ) from None
        except OSError:
            return  # cannot tell (e.g. a directory permission): SQLite will say
        if (st.st_dev, st.st_ino) != self.identity:
            raise DatabaseReplacedError(
                f"database file {self.path!r} was replaced after honker.open() (expected "
                f"dev={self.identity[0]}, ino={self.identity[1]}; found dev={st.st_dev}, "
                f"ino={st.st_ino}); refusing to write to the old file. Close the Database and "
                "reopen with honker.open()."
            )
        self.file_check_at = now + FILE_CHECK_EVERY_S

    def checked(self, st: os.stat_result, now: float) -> bool:
        """Another thread (the update watcher's, or the guard's own checker)
        found ``st`` at the path at ``now`` (``time.monotonic()``): when that
        is our file, the writer's own look is not due for another
        ``FILE_CHECK_EVERY_S``, and when ``-wal`` is small, neither is
        :meth:`bound_wal`'s. So the write path makes no ``stat`` call, a
        worker's claim after a wake-up and an enqueue after a pause included.
        The times only move later: a check the writer made, or a retry it put
        off, stands. False when ``st`` is another file (or none of ours):
        nothing is moved, and the writer's own check refuses the next write."""
        if (st.st_dev, st.st_ino) != self.identity:
            return False
        if self.file_check_at < now + FILE_CHECK_EVERY_S:
            self.file_check_at = now + FILE_CHECK_EVERY_S
        try:
            size = os.stat(self.wal_path).st_size
        except OSError:
            return True
        if size <= self.wal_limit and self.wal_check_at < now + WAL_CHECK_EVERY_S:
            self.wal_check_at = now + WAL_CHECK_EVERY_S
            self._wal_retry_s = WAL_RETRY_MIN_S
        return True

    def check_in_background(self) -> None:
        """Start the checker thread unless it runs (the writer calls this after
        a commit that had to look at the file itself, when no watcher looks)."""
        with self._checker_lock:
            if self._checker is not None or self._checker_closed:
                return
            stop = threading.Event()
            thread = threading.Thread(
                target=self._check_loop, args=(stop,), name="honker-file-check", daemon=True
            )
            self._checker, self._checker_stop = thread, stop
            thread.start()

    def stop_background(self, *, final: bool = False) -> None:
        """Stop the checker thread and wait for it (the watcher took over, or
        ``final``: the Database closes, and no checker starts again)."""
        with self._checker_lock:
            self._checker_closed = self._checker_closed or final
            thread, stop = self._checker, self._checker_stop
            self._checker = self._checker_stop = None
        if thread is not None and stop is not None:
            stop.set()
            if thread is not threading.current_thread():
                thread.join()

    def _check_loop(self, stop: threading.Event) -> None:
        idle_s = 0.0
        while not stop.wait(CHECKER_EVERY_S):
            now = time.monotonic()
            try:
                st = os.stat(self.path)
            except OSError:
                break  # the writer's own check tells the next write what happened
            if not self.checked(st, now):
                break  # likewise: the next write looks itself and refuses
            if self.wrote:
                self.wrote, idle_s = False, 0.0
                continue
            idle_s += CHECKER_EVERY_S
            if idle_s >= CHECKER_IDLE_S:
                break
        with self._checker_lock:
            if self._checker_stop is stop:
                self._checker = self._checker_stop = None

    def bound_wal(self, conn: sqlite3.Connection) -> None:
        """After a commit (writer slot held): empty an oversized -wal (see WAL_TRUNCATE_PAGES)."""
        now = time.monotonic()
        if now < self.wal_check_at:
            return
        self.wal_check_at = now + WAL_CHECK_EVERY_S
        try:
            size = os.stat(self.wal_path).st_size
        except OSError:
            return
        if size <= self.wal_limit:
            self._wal_retry_s = WAL_RETRY_MIN_S  # emptied, maybe by another process
            return
        busy = 1
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                while True:
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                    if not busy or time.monotonic() - now >= WAL_CHECKPOINT_FOR_S:
                        break
                    time.sleep(WAL_CHECKPOINT_PAUSE_S)
            finally:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        except sqlite3.Error as exc:  # housekeeping: the commit itself succeeded
            log.warning("checkpoint of %s failed: %s", self.wal_path, exc)
        if not busy:
            self._wal_retry_s = WAL_RETRY_MIN_S
            return
        retry_s = self._wal_retry_s
        self.wal_check_at = time.monotonic() + retry_s
        self._wal_retry_s = min(2 * retry_s, WAL_RETRY_MAX_S)
        log.log(
            logging.WARNING if retry_s >= 1.0 else logging.DEBUG,
            "%s is %d MB and could not be emptied: a reader has kept one read transaction "
            "open for more than %d ms (or another process is checkpointing); next try in %.1f s",
            self.wal_path, size // 2**20, WAL_CHECKPOINT_FOR_S * 1000, retry_s,
        )  # fmt: skip
