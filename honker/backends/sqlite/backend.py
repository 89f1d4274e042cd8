"""The SQLite backend: connections, the writer slot, readers and the watcher.

Connections: one writer behind a single slot (every write transaction is
``BEGIN IMMEDIATE``, so a transaction never has to upgrade a read lock and
fail with SQLITE_BUSY halfway), a lazily grown pool of readers, and the update
watcher's private connection (``watch/``). honker's on-disk format
(docs/spec/engine.md §2) is installed by ``engine/schema.py``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from threading import get_ident
from time import monotonic
from typing import Any, TypeVar

from ... import _marshal
from ..._errors import (
    ConfigError,
    DatabaseClosedError,
    DatabaseError,
    HonkerError,
    NestedTransactionError,
    ParameterError,
)
from .._idle_flush import IdleFlush
from . import functions as _functions
from .connection import BUSY_TIMEOUT_MS, MIN_SQLITE, SYNCHRONOUS, connect, rollback, rows
from .engine import schema
from .engine.history import FLUSH_EVERY_S, Tally
from .engine.history import attach as attach_tally
from .engine.history import detach as detach_tally
from .engine.queue import Watermarks
from .errors import TRANSLATED, translate
from .fileguard import FileGuard
from .ops import SQLiteOps, WriteOps
from .slot import WriterSlot
from .transaction import Transaction, _TxDepthGuard
from .watch import shmfd as _shmfd
from .watch.detectors import default_backend, probe
from .watch.watcher import UpdateEvents, UpdateWatcher, resolve_backend, resolve_poll_interval

T = TypeVar("T")

log = logging.getLogger("honker.database")

NESTED_TX = (
    "nested db.transaction() is not supported: the writer is a single connection slot and "
    "re-entry deadlocks on this thread. Keep one open transaction and pass tx= to "
    "enqueue/publish/..."
)
CLOSED = "Database is closed"


class SQLiteBackend:
    """One open SQLite database file (implements ``honker.backends.base.Backend``)."""

    # unixepoch() is this machine's clock (base.py, Backend.local_clock).
    local_clock = True

    def __init__(
        self,
        path: str,
        max_readers: int = 8,
        watcher_backend: str | None = None,
        watcher_poll_interval_ms: float | None = None,
        *,
        synchronous: str = "NORMAL",
        history: bool = True,
    ) -> None:
        if not isinstance(path, str):
            raise ParameterError(f"path must be a str, got {type(path).__name__}; pass str(path)")
        if "\x00" in path:
            raise ConfigError(f"path must not contain a NUL character: {path!r}")
        backend = resolve_backend(watcher_backend)
        self._poll_interval_s = resolve_poll_interval(watcher_poll_interval_ms)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise DatabaseError(
                f"honker needs SQLite >= {'.'.join(map(str, MIN_SQLITE))} "
                f"(unixepoch, RETURNING); this Python has {sqlite3.sqlite_version}"
            )
        if synchronous not in SYNCHRONOUS:
            raise ConfigError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}; got {synchronous!r}"
            )
        self._synchronous = synchronous
        self._max_readers = max(1, _marshal.int_arg("max_readers", max_readers))
        self._slot = WriterSlot()
        # The thread holding the writer slot (None: free). Only that thread
        # sets it, so a thread reading its own ident here holds the slot: the
        # nested-transaction check, without a threading.local lookup per write.
        self._holder: int | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers_open = 0
        self._readers_cond = threading.Condition()
        self._watcher: UpdateWatcher | None = None
        self._watcher_lock = threading.Lock()
        self._marks = Watermarks()
        self._guard: FileGuard | None = None
        self._tally: Tally | None = None
        self._idle_flush = IdleFlush(
            FLUSH_EVERY_S,
            lambda: self.write(lambda ops: None),
            lambda: self._tally is not None and bool(self._tally.committed),
            lambda: self._closed,
        )
        try:
            writer = connect(path, synchronous)
        except TRANSLATED as exc:
            raise translate(exc) from None
        self._writer: sqlite3.Connection | None = writer
        self._ops = SQLiteOps(writer, self._marks)  # a db.transaction()'s
        self._write_ops = WriteOps(writer, self._marks, self._settle_autocommitted)  # write()'s
        try:
            self.path: str = writer.execute("PRAGMA database_list").fetchone()[2] or path
            _functions.register(writer, self._marks)
            self.write(lambda ops: schema.install_all(ops.conn))
            if history:
                self._tally = attach_tally(writer)
            self._guard = FileGuard.watch(writer, self.path, BUSY_TIMEOUT_MS)
            if backend is None:
                self._watcher_backend = default_backend(self.path)
            else:
                self._watcher_backend = backend
                probe(self._watcher_backend, self.path)
        except BaseException:
            self._writer = None
            detach_tally(writer)
            writer.close()
            raise

    # -- the writer slot ------------------------------------------------------
    def in_transaction(self) -> bool:
        return self._holder == get_ident()

    def _begin(self, slot_timeout_s: float = -1, begin: bool = True) -> sqlite3.Connection:
        """The writer slot and connection, ``BEGIN IMMEDIATE`` sent unless
        ``begin`` is False (write(): its WriteOps sends it when needed)."""
        if self._holder == get_ident():
            raise NestedTransactionError(NESTED_TX)
        if not self._slot.acquire(blocking=False) and not self._slot.acquire(True, slot_timeout_s):
            raise DatabaseError(f"the writer stayed busy for {slot_timeout_s:g} s")
        conn = self._writer
        if conn is None:
            self._slot.release()
            raise DatabaseClosedError(CLOSED)
        try:
            # The file check is due every FILE_CHECK_EVERY_S, and on every write
            # once the watcher died (FileGuard.check); skipped without a call,
            # and usually made by another thread (FileGuard.checked).
            guard, watcher = self._guard, self._watcher
            died = watcher is not None and not watcher.alive
            if guard is not None and (died or monotonic() >= guard.file_check_at):
                guard.check(watcher_died=died)
            if begin:
                conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._slot.release()
            raise translate(exc) from None
        except BaseException:
            self._slot.release()
            raise
        self._holder = get_ident()
        return conn

    def _settle_autocommitted(self) -> None:
        """Counts made by statements that committed on their own (autocommit)
        are committed counts (run before a write() begins its transaction,
        and at its end when it began none)."""
        tally = self._tally
        if tally is not None and tally.pending:
            tally.settle(committed=True, flushed=False)

    def _end(self, conn: sqlite3.Connection, commit: bool, begun: bool = True) -> None:
        """Commit (``commit``) or roll back, and give the slot back. Without
        ``begun`` (a write() whose statements each committed on their own)
        there is nothing to end, unless the throughput history is due to be
        written: then a transaction is begun for it."""
        tally = self._tally
        try:
            if not begun and tally is not None:
                self._settle_autocommitted()
                begun = commit and tally.due() and self._open_for_flush(conn)
            if begun and commit:
                flushed = tally is not None and tally.due() and self._flush(conn, tally)
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    err = translate(exc)
                    rollback(conn)
                    if tally is not None:
                        tally.settle(committed=False, flushed=False)
                    raise err from None
                # The checks before the call keep a commit that counted
                # nothing (a claim's) down to attribute reads.
                if tally is not None and (tally.pending or flushed):
                    tally.settle(committed=True, flushed=flushed)
            elif begun:
                rollback(conn)
                if tally is not None:
                    tally.settle(committed=False, flushed=False)
            if tally is not None and tally.committed:
                self._idle_flush.arm()
            guard = self._guard
            if commit and guard is not None:
                guard.wrote = True
                if monotonic() >= guard.wal_check_at:
                    guard.bound_wal(conn)
                    if self._watcher is None:  # nobody else looks at the file for us
                        guard.check_in_background()
        finally:
            self._holder = None
            if self._closed and self._writer is conn:
                self._writer = None
                detach_tally(conn)
                conn.close()
            self._slot.release()

    # -- throughput counters (engine/history.py) --------------------------------
    @staticmethod
    def _open_for_flush(conn: sqlite3.Connection) -> bool:
        """BEGIN a transaction for the history alone (False if the write lock
        cannot be had: the counts wait for the next commit)."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            log.warning("throughput history not written (kept for the next commit): %s", exc)
            return False
        return True

    @staticmethod
    def _flush(conn: sqlite3.Connection, tally: Tally) -> bool:
        """Add the counts to the history inside the transaction being committed.

        In a savepoint of its own: a failed flush (disk full, say) is undone
        alone and never fails the caller's commit; the counts wait for the next.
        """
        try:
            conn.execute("SAVEPOINT honker_history")
            tally.flush(conn)
            conn.execute("RELEASE honker_history")
        except sqlite3.Error as exc:
            try:
                conn.execute("ROLLBACK TO honker_history")
                conn.execute("RELEASE honker_history")
            except sqlite3.Error:
                pass  # SQLite already rolled the transaction back: COMMIT reports why
            log.warning("throughput history not written (kept for the next commit): %s", exc)
            return False
        return True

    def write(
        self, fn: Callable[[SQLiteOps], T], slot_timeout_s: float = -1, *, single: bool = False
    ) -> T:
        """``fn(ops)`` in its own write transaction (``slot_timeout_s``: how long to
        wait for this Database's writer slot; -1 for as long as it takes).
        ``single`` changes nothing here: an operation that is one statement
        runs in autocommit anyway (ops.WriteOps: no transaction until one is
        needed)."""
        conn = self._begin(slot_timeout_s, begin=False)
        ops = self._write_ops
        ops.begun = False
        ok = False
        try:
            result = fn(ops)
            ok = True
        except TRANSLATED as exc:
            raise translate(exc) from None
        finally:
            self._end(conn, commit=ok, begun=ops.begun)
        return result

    def transaction(self) -> _TxDepthGuard:
        return _TxDepthGuard(self)

    def owns(self, tx: Any) -> bool:
        """Whether ``tx`` is a transaction of this backend's kind."""
        return type(tx) is Transaction

    def run_in(self, tx: Transaction, fn: Callable[[SQLiteOps], T]) -> T:
        """``fn(ops)`` inside the caller's open transaction ``tx``."""
        return tx._run(fn)

    def run_foreign(
        self, tx: Any, fn: Callable[[SQLiteOps], T], sql_name: str, sql_args: Sequence[Any]
    ) -> T:
        """A foreign ``tx`` (a DB-API-like object with ``query``) gets
        ``SELECT sql_name(*sql_args)``: the registered SQL function that runs
        the same operation as ``fn``."""
        marks = ", ".join("?" * len(sql_args))
        rows = tx.query(f"SELECT {sql_name}({marks}) AS r", list(sql_args))
        return rows[0]["r"]  # type: ignore[no-any-return]

    # -- readers --------------------------------------------------------------
    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """One statement on a pooled reader connection; rows as dicts.

        Semantics: does not see the uncommitted writes of an open transaction;
        the honker SQL functions are not available here.
        """
        if not isinstance(sql, str):
            raise ParameterError(f"sql must be a str, got {type(sql).__name__}")
        conn = self._take_reader()
        try:
            return rows(conn.execute(sql, _marshal.params(params)))
        except TRANSLATED as exc:
            raise translate(exc) from None
        finally:
            self._give_reader(conn)

    def read(self, fn: Callable[[SQLiteOps], T]) -> T:
        """``fn(ops)`` on a pooled reader (autocommit: no snapshot is kept)."""
        conn = self._take_reader()
        try:
            return fn(SQLiteOps(conn))
        except TRANSLATED as exc:
            raise translate(exc) from None
        finally:
            self._give_reader(conn)

    def _take_reader(self) -> sqlite3.Connection:
        with self._readers_cond:
            while True:
                if self._closed:
                    raise DatabaseClosedError(CLOSED)
                if self._idle_readers:
                    return self._idle_readers.pop()
                if self._readers_open < self._max_readers:
                    self._readers_open += 1
                    break
                self._readers_cond.wait()
        try:
            return connect(self.path, self._synchronous)
        except BaseException as exc:
            with self._readers_cond:
                self._readers_open -= 1
                self._readers_cond.notify()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc) from None
            raise

    def _give_reader(self, conn: sqlite3.Connection) -> None:
        with self._readers_cond:
            if self._closed:
                self._readers_open -= 1
                conn.close()
            else:
                self._idle_readers.append(conn)
            self._readers_cond.notify()

    # -- watcher --------------------------------------------------------------
    def changes(self) -> UpdateEvents:
        """Subscribe to "something committed" ticks."""
        with self._watcher_lock:
            if self._closed:
                raise DatabaseClosedError(CLOSED)
            # A dead watcher (file replaced or deleted) is kept: new subscriptions
            # then raise the watcher-died error at once instead of quietly
            # watching whatever file the path names now.
            if self._watcher is None:
                guard = self._guard
                self._watcher = UpdateWatcher(
                    self.path,
                    self._poll_interval_s,
                    self._watcher_backend,
                    None if guard is None else guard.checked,
                )
                if guard is not None:
                    guard.stop_background()  # the watcher looks at the file now
            return self._watcher.subscribe()

    # -- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        """Stop the watcher, close every connection. Idempotent.

        Semantics: waiting iterators raise the watcher-died ``RuntimeError``;
        a transaction open on another thread finishes first and then its
        connection closes; later use raises ``Database is closed``.
        """
        with self._close_lock:
            if self._closed:
                return
            self._idle_flush.cancel()
            tally = self._tally
            if tally is not None and tally.committed and not self._slot.locked():
                try:  # the last counts (best effort: nothing waits past the busy timeout)
                    tally.flushed_at = -math.inf
                    # Bounded: at interpreter exit a daemon thread (the flush timer) can
                    # be frozen holding the slot, and __del__ would wait for ever.
                    self.write(lambda ops: None, BUSY_TIMEOUT_MS / 1000)
                except HonkerError as exc:
                    log.warning("throughput history not written at close: %s", exc)
            self._closed = True
        with self._watcher_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()
        if self._guard is not None:
            self._guard.stop_background(final=True)
        if self._slot.acquire(blocking=False):
            try:
                conn, self._writer = self._writer, None
                if conn is not None:
                    detach_tally(conn)
                    conn.close()
            finally:
                self._slot.release()
        with self._readers_cond:
            idle, self._idle_readers = self._idle_readers, []
            self._readers_open -= len(idle)
            self._readers_cond.notify_all()
        for conn in idle:
            conn.close()
        # The watcher's -shm descriptor outlives it while the file has a name;
        # once our last connection closed, SQLite may have removed the file.
        _shmfd.reap()
