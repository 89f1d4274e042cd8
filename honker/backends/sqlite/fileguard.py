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
