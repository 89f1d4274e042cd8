"""The PostgreSQL backend: a connection pool, transactions, the change feed.

Connections: a psycopg_pool pool (``pool_size``, default ``max_readers``) in
autocommit mode; a write transaction takes one connection, ``BEGIN``s, runs
its operations and ends with ``commit`` (sql/queues.sql: a NOTIFY if it wrote
anything, then COMMIT, in one round trip). Unlike SQLite there is no single
writer: transactions of different threads and processes run concurrently, and
claims never wait for each other (``FOR UPDATE SKIP LOCKED``). As on SQLite, a
thread holds at most one ``db.transaction()`` at a time (a second raises
honker's nested-transaction error; helpers join with ``tx=``). The change feed
(``changes.py``) listens on a connection of its own, one per process and
server. The schema is created and migrated on open (``migrate.py``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.pq import ExecStatus

from ..._errors import (
    ConfigError,
    DatabaseClosedError,
    HonkerError,
    NestedTransactionError,
    ParameterError,
)
from .._idle_flush import IdleFlush
from . import params as _params
from .changes import ChangeFeed, Changes
from .config import PgConfig, parse
from .errors import TRANSLATED, translate
from .history import FLUSH_EVERY_S, KEEP_S, Counted, Tally
from .migrate import migrate
from .ops import PostgresOps
from .sql import queries, template
from .transaction import PgTransaction, PgTxGuard, dict_rows

T = TypeVar("T")

NESTED_TX = (
    "nested db.transaction() is not supported: the writer is a single connection slot and "
    "re-entry deadlocks on this thread. Keep one open transaction and pass tx= to "
    "enqueue/publish/..."
)
CLOSED = "Database is closed"
SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")
# How long a transaction waits for a free pooled connection.
POOL_TIMEOUT_S = 30.0
# How long an open waits for the server's answer.
CONNECT_TIMEOUT_S = 10

Conn = psycopg.Connection[tuple[Any, ...]]
log = logging.getLogger("honker.postgres")
TUPLES_OK = ExecStatus.TUPLES_OK

# Statements a write() runs without a transaction of its own making. Each is
# one atomic statement that leaves no waiter anything new to find (a job
# claimed, acked or heartbeaten; when the next claim is due), so it runs in autocommit: one round
# trip instead of BEGIN, statement, COMMIT, and no NOTIFY, or every listening
# worker process would wake for every other worker's claim and ack (with many
# workers those wake-ups cost more CPU than the jobs: bench/postgres.py). A
# write() BEGINs at its first statement not listed here, and then commits with
# NOTIFY as before; a user's transaction always does.
QUIET = (
    "claim",
    "ack",
    "ack_batch",
    "heartbeat",
    "next_claim_in",
    "next_claim_at",
)
# A write(single=True) whose one statement has a whole-transaction variant
# runs that variant in autocommit: the row and its NOTIFY in one round trip
# (a Queue.enqueue without tx=: the producer's half of the wake-up latency).
SOLO = {"enqueue": "enqueue_solo"}


class PostgresBackend:
    """One PostgreSQL database and schema (implements ``honker.backends.base.Backend``)."""

    # Times are the server's (unixepoch() in sql/), never this client's
    # (base.py, Backend.local_clock).
    local_clock = False

    def __init__(
        self,
        url: str,
        max_readers: int = 8,
        watcher_backend: str | None = None,
        watcher_poll_interval_ms: float | None = None,
        *,
        synchronous: str = "NORMAL",
        history: bool = True,
    ) -> None:
        if watcher_backend is not None or watcher_poll_interval_ms is not None:
            raise ConfigError(
                "watcher_backend and watcher_poll_interval_ms are SQLite's; PostgreSQL wakes "
                "waiters through LISTEN/NOTIFY (docs/postgres.md)"
            )
        if synchronous not in SYNCHRONOUS:
            raise ConfigError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}; got {synchronous!r}"
            )
        if isinstance(max_readers, bool) or not isinstance(max_readers, int):
            raise ParameterError(f"max_readers must be an int, got {type(max_readers).__name__}")
        self._cfg: PgConfig = parse(url, max_readers)
        self.path: str = self._cfg.display
        self.schema = self._cfg.schema
        self._q = queries(self.schema)
        self._quiet = frozenset(self._q[name] for name in QUIET)
        self._solo = {self._q[name]: self._q[solo] for name, solo in SOLO.items()}
        self._local = threading.local()
        self._closed = False
        self._close_lock = threading.Lock()
        self._feed: ChangeFeed | None = None
        self._feed_lock = threading.Lock()
        # The throughput history (history.py): each open write transaction's
        # counts, by id() of its connection, and the counts not yet written.
        self._tally: Tally | None = Tally() if history else None
        self._counts: dict[int, list[tuple[str, int]]] = {}
        self._idle_flush = IdleFlush(
            FLUSH_EVERY_S,
            lambda: self.write(lambda ops: None),
            lambda: self._tally is not None and bool(self._tally.committed),
            lambda: self._closed,
        )
        try:
            with self._connect() as conn:
                migrate(conn, self.schema)
        except TRANSLATED as exc:
            raise self._translate(exc) from None
        self._pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
            self._cfg.conninfo,
            min_size=1,
            max_size=self._cfg.pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=self._configure,
            name="honker-pg-pool",
            timeout=POOL_TIMEOUT_S,
            num_workers=1,
            open=True,
        )

    def __repr__(self) -> str:
        return f"PostgresBackend({self.path!r})"

    # -- connections ----------------------------------------------------------
    def _connect(self) -> Conn:
        """A new autocommit connection outside the pool (migrations)."""
        conn = psycopg.connect(
            self._cfg.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _configure(self, conn: Conn) -> None:
        conn.execute(self._q["search_path"])

    def _translate(self, exc: BaseException) -> BaseException:
        if self._closed and isinstance(exc, psycopg_pool.PoolClosed):
            return DatabaseClosedError(CLOSED)
        return translate(exc, self._cfg.scrub)

    def _ops_for(
        self, cur: psycopg.Cursor[Any], begun: list[bool] | None = None, single: bool = False
    ) -> PostgresOps:
        """Operations on ``cur``. With ``begun`` (a write()'s), ``BEGIN`` is sent
        before the first statement not in ``QUIET`` and ``begun[0]`` set; with
        ``single`` too, a statement of ``SOLO`` runs as its whole-transaction
        variant instead, and no other statement may follow it."""
        solo_ran = False

        def fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
            nonlocal solo_ran
            if begun is not None and not begun[0] and template(sql) not in self._quiet:
                if solo_ran:  # write(single=True) promised one statement
                    raise RuntimeError("honker: a single-statement write ran a second statement")
                if single and sql in self._solo:
                    sql, solo_ran = self._solo[sql], True
                else:
                    cur.execute("BEGIN")
                    begun[0] = True
            cur.execute(sql, params)
            # The result's status, not cur.description (which builds a Column
            # object per column on every call: measurable on every claim).
            res = cur.pgresult
            return cur.fetchall() if res is not None and res.status == TUPLES_OK else []

        # A write transaction's operations count finished jobs (history.py).
        return PostgresOps(fetch, self.schema, self._counts.get(id(cur.connection)))

    # -- write transactions ---------------------------------------------------
    def in_transaction(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    def _begin(self, begin: bool = True) -> Conn:
        """This thread's transaction slot and a pooled connection, ``BEGIN``
        sent on it unless ``begin`` is False (write() sends it later)."""
        if getattr(self._local, "depth", 0):
            raise NestedTransactionError(NESTED_TX)
        if self._closed:
            raise DatabaseClosedError(CLOSED)
        try:
            conn = self._pool.getconn()
        except TRANSLATED as exc:
            raise self._translate(exc) from None
        try:
            if begin:
                conn.execute("BEGIN")
        except BaseException as exc:
            self._pool.putconn(conn)
            if isinstance(exc, TRANSLATED):
                raise self._translate(exc) from None
            raise
        self._local.depth = 1
        if self._tally is not None:
            self._counts[id(conn)] = []
        return conn

    def _end(self, conn: Conn, commit: bool, begun: bool = True) -> None:
        """Commit (with NOTIFY if the transaction wrote) or roll back, and give
        the connection back. Without ``begun`` (a write() that ran only
        ``QUIET`` statements, each committed on its own) there is no
        transaction to end, unless the throughput history is due to be
        written: then one is begun for it."""
        counts = self._counts.pop(id(conn), None)
        # An aborted transaction cannot commit (COMMIT raises below): no flush.
        aborted = conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        flush = commit and not aborted and counts is not None
        tally = self._tally
        if flush and not begun and tally is not None and tally.due():
            # (An unlocked peek: take() decides under its lock; at worst an
            # empty transaction commits.)
            if counts or tally.committed:
                conn.execute("BEGIN")
                begun = True
        taken = self._flush(conn, counts) if flush and begun and counts is not None else None
        committed = False
        try:
            if begun:
                conn.execute(self._q["commit"] if commit else "ROLLBACK")
            committed = commit
        except TRANSLATED as exc:
            err = self._translate(exc)
            if not conn.closed:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    pass  # the failed COMMIT ended the transaction already
            raise err from None
        finally:
            self._local.depth = 0
            self._pool.putconn(conn)
            tally = self._tally
            if tally is not None and counts is not None:
                tally.settle(counts, taken, committed)
                if tally.committed:
                    self._idle_flush.arm()

    # -- throughput counters (history.py) --------------------------------------
    def _flush(self, conn: Conn, counts: list[tuple[str, int]]) -> Counted | None:
        """Write the counts into the transaction being committed, if a flush
        is due; what it wrote (None: nothing).

        In a savepoint of its own: a failed flush is undone alone and never
        fails the caller's commit; its counts wait for the next.
        """
        tally = self._tally
        grab = None if tally is None else tally.take(counts)
        if tally is None or grab is None:
            return None
        taken, prune = grab
        try:
            with conn.cursor() as cur:
                ops = self._ops_for(cur)
                cur.execute("SAVEPOINT honker_history")
                Tally.write(taken, counts, ops.add_throughput)
                if prune:
                    ops.prune_throughput(KEEP_S)
                cur.execute("RELEASE SAVEPOINT honker_history")
        except psycopg.Error as exc:
            try:
                conn.execute("ROLLBACK TO SAVEPOINT honker_history")
                conn.execute("RELEASE SAVEPOINT honker_history")
            except psycopg.Error:
                pass  # the connection is gone: COMMIT reports why
            tally.give_back(taken)
            log.warning(
                "throughput history not written (kept for the next commit): %s",
                self._cfg.scrub(str(exc)),
            )
            return None
        return taken

    def transaction(self) -> PgTxGuard:
        return PgTxGuard(self)

    def write(self, fn: Callable[[PostgresOps], T], *, single: bool = False) -> T:
        """``fn(ops)`` in a write transaction of its own.

        Semantics: the ``QUIET`` statements ``fn`` runs before its first other
        one run in autocommit, each atomic on its own and without NOTIFY (a
        claim pass, an ack); the rest run in one transaction, begun at that
        first other statement, whose commit NOTIFYs if it wrote. An exception
        rolls that transaction back; a quiet statement already ran (as a
        worker killed right after it would have: a claim then expires).
        ``single`` (``fn`` runs one statement): a statement of ``SOLO`` runs
        as one autocommit statement that also NOTIFYs, in one round trip.
        """
        conn = self._begin(begin=False)
        ok = False
        begun = [False]
        try:
            with conn.cursor() as cur:
                result = fn(self._ops_for(cur, begun, single))
            ok = True
        except TRANSLATED as exc:
            raise self._translate(exc) from None
        finally:
            self._end(conn, commit=ok, begun=begun[0])
        return result

    def owns(self, tx: Any) -> bool:
        """Whether ``tx`` is a transaction of this backend's kind."""
        return type(tx) is PgTransaction

    def run_in(self, tx: PgTransaction, fn: Callable[[PostgresOps], T]) -> T:
        """``fn(ops)`` inside the caller's open transaction ``tx``."""
        return tx._run(fn)

    def run_foreign(
        self, tx: Any, fn: Callable[[PostgresOps], T], sql_name: str, sql_args: Sequence[Any]
    ) -> T:
        """``fn(ops)`` through a foreign object's ``query(sql, params)``: the same
        statements, in psycopg's ``%(name)s`` style with a dict of parameters,
        each row read in column order. (PostgreSQL has no ``honker_*`` SQL
        functions yet; ``sql_name`` is not used.)"""

        def fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
            return [tuple(row.values()) for row in tx.query(sql, dict(params))]

        try:
            return fn(PostgresOps(fetch, self.schema))
        except TRANSLATED as exc:
            raise self._translate(exc) from None

    # -- reads ----------------------------------------------------------------
    def read(self, fn: Callable[[PostgresOps], T]) -> T:
        """``fn(ops)`` on a pooled connection in autocommit mode (no snapshot kept)."""
        if self._closed:
            raise DatabaseClosedError(CLOSED)
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                return fn(self._ops_for(cur))
        except TRANSLATED as exc:
            raise self._translate(exc) from None

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """One statement on a pooled connection in autocommit mode; rows as dicts.

        Semantics: does not see the uncommitted writes of an open transaction.
        """
        statement, values = _params.convert(sql, params)
        if self._closed:
            raise DatabaseClosedError(CLOSED)
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                cur.execute(statement, values)
                return dict_rows(cur)
        except TRANSLATED as exc:
            raise self._translate(exc) from None

    # -- the change feed ------------------------------------------------------
    def changes(self) -> Changes:
        """Subscribe to "something committed" ticks (LISTEN/NOTIFY, ``changes.py``)."""
        with self._feed_lock:
            if self._closed:
                raise DatabaseClosedError(CLOSED)
            if self._feed is None:
                try:
                    self._feed = ChangeFeed(
                        self._cfg.conninfo, self._cfg.channel, self.path, self._cfg.scrub
                    )
                except TRANSLATED as exc:
                    raise self._translate(exc) from None
            return self._feed.subscribe()

    # -- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        """Stop the change feed and close every connection. Idempotent.

        Semantics: waiting iterators raise the watcher-died ``RuntimeError``; a
        transaction open on another thread keeps its connection until it ends;
        later use raises ``Database is closed``.
        """
        with self._close_lock:
            if self._closed:
                return
            self._idle_flush.cancel()
            tally = self._tally
            if tally is not None and tally.committed:
                try:  # the last counts (best effort)
                    tally.flushed_at = -math.inf
                    self.write(lambda ops: None)
                except HonkerError as exc:
                    log.warning("throughput history not written at close: %s", exc)
            self._closed = True
        with self._feed_lock:
            feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()
