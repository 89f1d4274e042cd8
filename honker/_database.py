"""``honker.open()``, :class:`Database` and :class:`Transaction`.

Connections: one writer behind a single slot (every write transaction is
``BEGIN IMMEDIATE``, so a transaction never has to upgrade a read lock and
fail with SQLITE_BUSY halfway), a lazily grown pool of readers for
``db.query()``, and the update watcher's private connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _functions, _marshal, _shmfd
from ._detectors import default_backend, probe
from ._engine import pubsub, schema
from ._engine.queue import Watermarks
from ._errors import (
    ConfigError,
    DatabaseClosedError,
    DatabaseError,
    HonkerError,
    NestedTransactionError,
    ParameterError,
    SQLFunctionError,
    TransactionNotStartedError,
    from_sqlite,
)
from ._fileguard import FileGuard
from ._watcher import UpdateEvents, UpdateWatcher, resolve_backend, resolve_poll_interval

if TYPE_CHECKING:
    from ._lock import _Lock
    from ._notify import Listener
    from ._outbox import Outbox
    from ._queue import Queue
    from ._stream import Stream

T = TypeVar("T")
_dumps = json.dumps
UNSET: Any = object()  # "argument not given", where None means something

log = logging.getLogger("honker.database")

WAL_AUTOCHECKPOINT_PAGES = 10000
BUSY_TIMEOUT_MS = 5000

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -32000",
    "PRAGMA temp_store = MEMORY",
    f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}",
)
MIN_SQLITE = (3, 38, 0)  # unixepoch(); RETURNING needs 3.35, UPSERT ... WHERE 3.24

NESTED_TX = (
    "nested db.transaction() is not supported: the writer is a single connection slot and "
    "re-entry deadlocks on this thread. Keep one open transaction and pass tx= to "
    "enqueue/publish/..."
)
CLOSED = "Database is closed"
NOT_STARTED = "Transaction not started"
EXECUTE_RETURNED = "Execute returned results - did you mean to call query?"


def translate(exc: BaseException) -> BaseException:
    """Turn a ``sqlite3`` error (or a failed honker SQL function) into ours."""
    if isinstance(exc, sqlite3.Error):
        if str(exc) == _functions.UDF_FAILED:
            inner = _functions.take_error()
            if isinstance(inner, sqlite3.Error):
                return from_sqlite(inner)
            # honker surfaces every SQL-function failure as RuntimeError
            # (python-api.md §2): ours already are, except ValueError-based
            # ones such as a cron ScheduleError, which keep only their text.
            if isinstance(inner, HonkerError) and isinstance(inner, RuntimeError):
                return inner
            if inner is not None:
                return SQLFunctionError(str(inner))
        if isinstance(exc, sqlite3.ProgrammingError) and "Incorrect number of bindings" in str(exc):
            return DatabaseError(str(exc))
        return from_sqlite(exc)
    if isinstance(exc, OverflowError):
        return ParameterError(f"SQL parameter out of range: {exc}")
    if isinstance(exc, UnicodeEncodeError):
        return _marshal.text_error(exc)
    return exc


# What translate() turns into honker errors: SQLite's, an int too large to
# bind, and text sqlite3 cannot encode as UTF-8 (a lone surrogate).
_TRANSLATED = (sqlite3.Error, OverflowError, UnicodeEncodeError)


def _text(raw: bytes) -> str:
    """TEXT column values; invalid UTF-8 reads as "" as in honker (python-api.md §6)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""


SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def connect(path: str, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """An application connection with honker's PRAGMAs (writer and readers)."""
    conn = sqlite3.connect(
        path, uri=True, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    conn.text_factory = _text
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma).fetchall()
        if synchronous != "NORMAL":
            conn.execute(f"PRAGMA synchronous = {synchronous}").fetchall()
    except BaseException:
        conn.close()
        raise
    return conn


class Transaction:
    """An open write transaction on the writer connection.

    Obtained from ``with db.transaction() as tx:``; the ``with`` block commits
    on success and rolls back on an exception.
    """

    __slots__ = ("_conn", "_marks", "_owner")

    def __init__(
        self,
        conn: sqlite3.Connection | None,
        marks: Watermarks | None = None,
        owner: Database | None = None,
    ) -> None:
        self._conn = conn
        self._marks = marks
        self._owner = owner

    def __del__(self) -> None:
        # As in honker, a transaction dropped without its ``with`` block ending
        # rolls back and frees the writer for other threads (guarded by
        # test_dropped_transaction_rolls_back_and_frees_the_writer).
        conn, self._conn = self._conn, None
        if conn is not None and self._owner is not None:
            try:
                self._owner._end(conn, commit=False)
            except Exception:  # noqa: BLE001  finalizer: nothing to report to
                pass

    def _user_sql(self, sql: str) -> None:
        if not isinstance(sql, str):
            raise ParameterError(f"sql must be a str, got {type(sql).__name__}")
        # Hand edits of job rows void the dead-letter watermarks (see Watermarks).
        if self._marks is not None and "_honker_live" in sql:
            self._marks.invalidate()

    def _live(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            raise TransactionNotStartedError(NOT_STARTED)
        return conn

    def execute(self, sql: str, params: object = None) -> None:
        """Run one statement that returns no rows (use :meth:`query` for those)."""
        conn = self._live()
        self._user_sql(sql)
        try:
            cur = conn.execute(sql, _marshal.params(params))
        except _TRANSLATED as exc:
            raise translate(exc) from None
        if cur.description is not None:
            cur.close()
            raise DatabaseError(EXECUTE_RETURNED)

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts."""
        conn = self._live()
        self._user_sql(sql)
        try:
            return _marshal.rows(conn.execute(sql, _marshal.params(params)))
        except _TRANSLATED as exc:
            raise translate(exc) from None

    def notify(self, channel: str, payload: Any) -> int:
        """Queue a notification on ``channel``; listeners see it after commit.

        Semantics: the payload is always ``json.dumps``-ed (strings too); a
        rollback discards it. Returns the notification id.
        """
        if not isinstance(channel, str):
            raise ParameterError(f"channel must be a str, got {type(channel).__name__}")
        text = _json_payload(payload)
        return self._run(pubsub.notify, channel, text)

    def bootstrap_honker_schema(self) -> None:
        """Install honker's schema (idempotent)."""
        self._run(schema.install_all)

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._live()
        try:
            return fn(conn, *args)
        except _TRANSLATED as exc:
            raise translate(exc) from None


def _json_payload(payload: Any) -> str:
    try:
        return _dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"payload is not JSON-serialisable: {exc}") from None


class _TxDepthGuard:
    """What ``db.transaction()`` returns; ``with`` it to get a Transaction."""

    __slots__ = ("_db", "_tx")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tx: Transaction | None = None

    def __enter__(self) -> Transaction:
        conn = self._db._begin()
        self._tx = Transaction(conn, self._db._marks, self._db)
        return self._tx

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        tx, self._tx = self._tx, None
        if tx is None:
            return
        conn, tx._conn = tx._conn, None
        self._db._end(conn, commit=exc_type is None)  # type: ignore[arg-type]


class Database:
    """An open honker database: the writer, the readers and the watcher.

    Obtain it with :func:`honker.open`. Safe to share between threads: writes
    serialize on the single writer slot.
    """

    def __init__(
        self,
        path: str,
        max_readers: int = 8,
        watcher_backend: str | None = None,
        watcher_poll_interval_ms: float | None = None,
        *,
        synchronous: str = "NORMAL",
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
        self._slot = threading.Lock()
        self._local = threading.local()
        self._closed = False
        self._close_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers_open = 0
        self._readers_cond = threading.Condition()
        self._watcher: UpdateWatcher | None = None
        self._watcher_lock = threading.Lock()
        self._queues: dict[str, Queue] = {}
        self._streams: dict[str, Stream] = {}
        self._outboxes: dict[str, Outbox] = {}
        self._marks = Watermarks()
        self._guard: FileGuard | None = None
        try:
            writer = connect(path, synchronous)
        except _TRANSLATED as exc:
            raise translate(exc) from None
        self._writer: sqlite3.Connection | None = writer
        try:
            self.path: str = writer.execute("PRAGMA database_list").fetchone()[2] or path
            _functions.register(writer, self._marks)
            self._write(schema.install_all)
            self._guard = FileGuard.watch(writer, self.path, BUSY_TIMEOUT_MS)
            if backend is None:
                self._backend = default_backend(self.path)
            else:
                self._backend = backend
                probe(self._backend, self.path)
        except BaseException:
            self._writer = None
            writer.close()
            raise

    # -- the writer slot ------------------------------------------------------
    @property
    def _inner(self) -> Database:
        return self  # honker's tests call db._inner.close()

    @property
    def _tx_depth(self) -> int:
        return getattr(self._local, "depth", 0)

    def _begin(self) -> sqlite3.Connection:
        if getattr(self._local, "depth", 0):
            raise NestedTransactionError(NESTED_TX)
        if not self._slot.acquire(blocking=False):
            self._slot.acquire()
        conn = self._writer
        if conn is None:
            self._slot.release()
            raise DatabaseClosedError(CLOSED)
        try:
            if self._guard is not None:
                watcher = self._watcher
                self._guard.check(watcher_died=watcher is not None and not watcher.alive)
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._slot.release()
            raise translate(exc) from None
        except BaseException:
            self._slot.release()
            raise
        self._local.depth = 1
        return conn

    def _end(self, conn: sqlite3.Connection, commit: bool) -> None:
        try:
            if commit:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    err = translate(exc)
                    _rollback(conn)
                    raise err from None
                if self._guard is not None:
                    self._guard.bound_wal(conn)
            else:
                _rollback(conn)
        finally:
            self._local.depth = 0
            if self._closed and self._writer is conn:
                self._writer = None
                conn.close()
            self._slot.release()

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(writer, *args)`` in its own write transaction."""
        conn = self._begin()
        ok = False
        try:
            result = fn(conn, *args)
            ok = True
        except _TRANSLATED as exc:
            raise translate(exc) from None
        finally:
            self._end(conn, commit=ok)
        return result

    def transaction(self) -> _TxDepthGuard:
        """A write transaction: ``with db.transaction() as tx: ...``.

        Semantics:
        - ``BEGIN IMMEDIATE``: takes SQLite's write lock at once (waits up to
          the 5 s busy timeout for other processes);
        - commits when the block ends normally, rolls back on an exception
          (which propagates);
        - one per thread: opening a second on the same thread raises
          ``RuntimeError`` (pass ``tx=`` to helpers instead); other threads
          wait for the slot.
        """
        return _TxDepthGuard(self)

    # -- readers --------------------------------------------------------------
    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """Run one statement on a pooled reader connection; rows as dicts.

        Semantics: does not see the uncommitted writes of an open transaction;
        the honker SQL functions are not available here.
        """
        if not isinstance(sql, str):
            raise ParameterError(f"sql must be a str, got {type(sql).__name__}")
        conn = self._take_reader()
        try:
            return _marshal.rows(conn.execute(sql, _marshal.params(params)))
        except _TRANSLATED as exc:
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
    def update_events(self) -> UpdateEvents:
        """Subscribe to "something committed" ticks (an async iterator of None)."""
        with self._watcher_lock:
            if self._closed:
                raise DatabaseClosedError(CLOSED)
            # A dead watcher (file replaced or deleted) is kept: new subscriptions
            # then raise the watcher-died error at once instead of quietly
            # watching whatever file the path names now.
            if self._watcher is None:
                self._watcher = UpdateWatcher(self.path, self._poll_interval_s, self._backend)
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
            self._closed = True
        with self._watcher_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()
        if self._slot.acquire(blocking=False):
            try:
                conn, self._writer = self._writer, None
                if conn is not None:
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

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  interpreter shutdown: best effort
            pass

    # -- features (each lives in its own module) ------------------------------
    def queue(
        self, name: str, visibility_timeout_s: Any = UNSET, max_attempts: Any = UNSET
    ) -> Queue:
        """The queue ``name`` (memoised per Database; see :class:`honker.Queue`)."""
        from ._queue import open_queue

        return open_queue(self, name, visibility_timeout_s, max_attempts)

    def listen(self, channel: str, fallback_poll_s: float | None = 15.0) -> Listener:
        """Listen for notifications on ``channel`` committed from now on."""
        from ._notify import Listener

        return Listener(self, channel, fallback_poll_s)

    def prune_notifications(
        self, older_than_s: float | None = None, max_keep: int | None = None
    ) -> int:
        """Delete notifications older than ``older_than_s`` OR beyond the newest ``max_keep``."""
        if max_keep is not None:
            max_keep = _marshal.int_arg("max_keep", max_keep, bounded=False)  # huge: no limit
            if max_keep < 0:
                raise ConfigError("max_keep must not be negative")
        if older_than_s is None and max_keep is None:
            return 0
        older = None
        if older_than_s is not None:
            older = _marshal.duration_arg("older_than_s", older_than_s)
        # Through the public transaction(), so the newest id is read inside the
        # same write transaction as the delete, and code that wraps
        # transaction() sees the prune (honker's regression test for a
        # prune that read the newest id before taking the write lock).
        with self.transaction() as tx:
            return tx._run(pubsub.prune, older, max_keep)

    def stream(self, name: str) -> Stream:
        from ._stream import Stream

        s = self._streams.get(_marshal.str_arg("stream name", name))
        if s is None:
            s = self._streams[name] = Stream(self, name)
        return s

    def outbox(
        self,
        name: str,
        delivery: Callable[[Any], Any],
        max_attempts: int = 5,
        base_backoff_s: int = 5,
        visibility_timeout_s: int = 60,
    ) -> Outbox:
        from ._outbox import open_outbox

        return open_outbox(self, name, delivery, max_attempts, base_backoff_s, visibility_timeout_s)

    def lock(self, name: str, ttl: int = 60, owner: str | None = None) -> _Lock:
        from ._lock import _Lock

        return _Lock(self, name, ttl, owner)

    def try_rate_limit(self, name: str, limit: int, per: int) -> bool:
        from ._lock import try_rate_limit

        return try_rate_limit(self, name, limit, per)

    def sweep_rate_limits(self, older_than_s: int = 3600) -> int:
        from ._lock import sweep_rate_limits

        return sweep_rate_limits(self, older_than_s)

    def task(self, queue: str = "default", **kwargs: Any) -> Any:
        return self.queue(queue).task(**kwargs)

    def periodic_task(self, schedule: Any, queue: str = "default", **kwargs: Any) -> Any:
        return self.queue(queue).periodic_task(schedule, **kwargs)

    async def run_workers(
        self, queue: str | None = None, concurrency: int | None = None, stop_event: Any = None
    ) -> None:
        from ._worker import run_workers

        await run_workers(self, queue=queue, concurrency=concurrency, stop_event=stop_event)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # SQLite already rolled back (e.g. after SQLITE_FULL)


def open(  # noqa: A001  honker's public name
    path: str,
    max_readers: int = 8,
    watcher_backend: str | None = None,
    watcher_poll_interval_ms: float | None = None,
    *,
    synchronous: str = "NORMAL",
) -> Database:
    """Open (creating if needed) a honker database file.

    Semantics:
    - applies honker's PRAGMAs (WAL, synchronous=NORMAL, busy_timeout 5 s, ...)
      and installs the schema in a ``BEGIN IMMEDIATE`` transaction;
    - ``watcher_backend``: None (the default: ``"kernel"`` on Linux, else
      ``"polling"``), ``"polling"``/``"poll"``, ``"kernel"``/``"kernel-watcher"``,
      ``"shm"``/``"shm-fast-path"``; an explicit backend that cannot work here
      raises ``RuntimeError("watcher_backend probe failed: ...")``;
    - ``watcher_poll_interval_ms``: the polling and shm backends' cadence
      (default 1);
    - ``synchronous`` (keyword-only, not in honker): ``"NORMAL"`` (honker's
      setting: a commit survives a process crash, the last commits before an
      OS crash or power loss may be lost), or ``"FULL"``/``"EXTRA"`` to fsync
      every commit so it also survives power loss, at a cost in commit rate.

    Raises ``RuntimeError`` subclasses with SQLite's message for a path that
    cannot be opened, a file that is not a database, or a read-only file.

    Example::

        db = honker.open("app.db")
        q = db.queue("emails")
        q.enqueue({"to": "alice@example.com"})
    """
    return Database(
        path, max_readers, watcher_backend, watcher_poll_interval_ms, synchronous=synchronous
    )
