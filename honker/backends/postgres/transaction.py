"""The user's write transaction on PostgreSQL (what ``with db.transaction() as tx`` gives)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from ... import _marshal
from ..._errors import DatabaseError, TransactionNotStartedError
from . import params as _params
from .errors import TRANSLATED
from .ops import PostgresOps

if TYPE_CHECKING:
    from .backend import PostgresBackend

T = TypeVar("T")

NOT_STARTED = "Transaction not started"
EXECUTE_RETURNED = "Execute returned results - did you mean to call query?"


def dict_rows(cur: psycopg.Cursor[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The cursor's rows as dicts (none for a statement without a result)."""
    if cur.description is None:
        return []
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class PgTransaction:
    """An open write transaction on one pooled connection.

    Obtained from ``with db.transaction() as tx:``; the ``with`` block commits
    on success and rolls back on an exception. ``execute``/``query`` take
    PostgreSQL SQL with ``?`` or psycopg's ``%s``/``%(name)s`` parameters
    (``params.py``); honker's tables are reachable unqualified (the schema is
    at the end of the connection's ``search_path``).
    """

    __slots__ = ("_conn", "_backend")

    def __init__(self, conn: psycopg.Connection[Any] | None, backend: PostgresBackend) -> None:
        self._conn = conn
        self._backend = backend

    def __del__(self) -> None:
        # As on SQLite, a transaction dropped without its ``with`` block ending
        # rolls back and gives its connection back.
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                self._backend._end(conn, commit=False)
            except Exception:  # noqa: BLE001  finalizer: nothing to report to
                pass

    def _live(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None:
            raise TransactionNotStartedError(NOT_STARTED)
        return conn

    def _statement(self, sql: str, params: object) -> psycopg.Cursor[Any]:
        conn = self._live()
        statement, values = _params.convert(sql, params)
        cur = conn.cursor()
        try:
            cur.execute(statement, values)
        except TRANSLATED as exc:
            cur.close()
            raise self._backend._translate(exc) from None
        return cur

    def execute(self, sql: str, params: object = None) -> None:
        """Run one statement that returns no rows (use :meth:`query` for those)."""
        with self._statement(sql, params) as cur:
            if cur.description is not None:
                raise DatabaseError(EXECUTE_RETURNED)

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts."""
        with self._statement(sql, params) as cur:
            try:
                return dict_rows(cur)
            except TRANSLATED as exc:
                raise self._backend._translate(exc) from None

    def notify(self, channel: str, payload: Any) -> int:
        """Insert a notification on ``channel``, delivered to listeners at commit; its id.

        Semantics: as on SQLite (the payload is stored as JSON text; rolled
        back with the transaction); ids of one channel become visible in id
        order (``ops/pubsub.py``), so this transaction holds the channel's
        order lock until it ends: other notifiers of the channel wait for it.
        """
        channel = _marshal.str_arg("channel", channel)
        text = _marshal.json_payload(payload)
        return self._run(lambda ops: ops.notify(channel, text))

    def bootstrap_honker_schema(self) -> None:
        """Nothing to do on PostgreSQL: ``honker.open()`` migrated the schema."""
        self._live()

    def _run(self, fn: Callable[[PostgresOps], T]) -> T:
        conn = self._live()
        with conn.cursor() as cur:
            try:
                return fn(self._backend._ops_for(cur))
            except TRANSLATED as exc:
                raise self._backend._translate(exc) from None


class PgTxGuard:
    """What ``db.transaction()`` returns; ``with`` it to get a transaction."""

    __slots__ = ("_backend", "_tx")

    def __init__(self, backend: PostgresBackend) -> None:
        self._backend = backend
        self._tx: PgTransaction | None = None

    def __enter__(self) -> PgTransaction:
        self._tx = PgTransaction(self._backend._begin(), self._backend)
        return self._tx

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        tx, self._tx = self._tx, None
        if tx is None:
            return
        conn, tx._conn = tx._conn, None
        if conn is not None:
            self._backend._end(conn, commit=exc_type is None)
