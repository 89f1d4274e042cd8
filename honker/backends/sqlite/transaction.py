"""The user's write transaction on the SQLite writer (``honker.Transaction``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ... import _marshal
from ..._errors import DatabaseError, ParameterError, TransactionNotStartedError
from .connection import rows
from .engine import schema
from .errors import TRANSLATED, translate
from .ops import SQLiteOps

if TYPE_CHECKING:
    from .backend import SQLiteBackend

T = TypeVar("T")

NOT_STARTED = "Transaction not started"
EXECUTE_RETURNED = "Execute returned results - did you mean to call query?"


class Transaction:
    """An open write transaction on the writer connection.

    Obtained from ``with db.transaction() as tx:``; the ``with`` block commits
    on success and rolls back on an exception. ``execute``/``query`` take
    SQLite SQL with ``?`` (or ``?NNN``) parameters.
    """

    __slots__ = ("_conn", "_ops", "_owner")

    def __init__(
        self,
        conn: sqlite3.Connection | None,
        ops: SQLiteOps | None = None,
        owner: SQLiteBackend | None = None,
    ) -> None:
        self._conn = conn
        self._ops = ops if ops is not None or conn is None else SQLiteOps(conn)
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
        # Hand edits of job rows void the dead-letter watermarks (engine/queue.py).
        marks = None if self._ops is None else self._ops.marks
        if marks is not None and "_honker_live" in sql:
            marks.invalidate()

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
        except TRANSLATED as exc:
            raise translate(exc) from None
        if cur.description is not None:
            cur.close()
            raise DatabaseError(EXECUTE_RETURNED)

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts."""
        conn = self._live()
        self._user_sql(sql)
        try:
            return rows(conn.execute(sql, _marshal.params(params)))
        except TRANSLATED as exc:
            raise translate(exc) from None

    def notify(self, channel: str, payload: Any) -> int:
        """Queue a notification on ``channel``; listeners see it after commit.

        Semantics: the payload is always ``json.dumps``-ed (strings too); a
        rollback discards it. Returns the notification id.
        """
        channel = _marshal.str_arg("channel", channel)
        text = _marshal.json_payload(payload)
        return self._run(lambda ops: ops.notify(channel, text))

    def bootstrap_honker_schema(self) -> None:
        """Install honker's schema (idempotent)."""
        self._run(lambda ops: schema.install_all(ops.conn))

    def _run(self, fn: Callable[[SQLiteOps], T]) -> T:
        self._live()
        try:
            return fn(self._ops)  # type: ignore[arg-type]  # set whenever _conn is
        except TRANSLATED as exc:
            raise translate(exc) from None


class _TxDepthGuard:
    """What ``db.transaction()`` returns; ``with`` it to get a Transaction."""

    __slots__ = ("_backend", "_tx")

    def __init__(self, backend: SQLiteBackend) -> None:
        self._backend = backend
        self._tx: Transaction | None = None

    def __enter__(self) -> Transaction:
        conn = self._backend._begin()
        self._tx = Transaction(conn, self._backend._ops, self._backend)
        return self._tx

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        tx, self._tx = self._tx, None
        if tx is None:
            return
        conn, tx._conn = tx._conn, None
        self._backend._end(conn, commit=exc_type is None)  # type: ignore[arg-type]
