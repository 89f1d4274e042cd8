"""The read-only inspector of a PostgreSQL database behind ``honker queues|dead|
streams|schedules|metrics postgresql://...`` (``honker/backends/__init__.py``,
``open_inspector``).

Semantics:
- one connection of its own, outside any pool, with
  ``default_transaction_read_only`` on: inspecting never writes (no schema
  creation, no migration; a statement that would write is refused by the
  server);
- each call reads in one ``REPEATABLE READ READ ONLY`` transaction, so its
  counts agree with each other, and ends it before returning (nothing is held
  between calls);
- the same operations as the API (``ops/manage.py``), so the numbers are the
  dashboard's and ``Queue.stats()``'s; "now" is the server's clock;
- the URL's password never appears in :attr:`path`, an error or a log record.

Example::

    with Inspector("postgresql://app@db/app?schema=honker") as inspector:
        for row in inspector.queue_counts():
            print(row["queue"], row["pending"])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg

from ..._errors import ConfigError, InspectError
from .config import parse
from .errors import translate
from .ops import PostgresOps

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10
# What the inspector reads; a schema without the first is not honker's.
LIVE_TABLE = "_honker_live"
SIDE_TABLES = ("_honkerpy_paused", "_honkerpy_totals")
COUNT_KEYS = ("queue", "pending", "processing", "delayed", "dead")


class Inspector:
    """A read-only view of one schema of a PostgreSQL database (see the module docstring)."""

    def __init__(self, url: str) -> None:
        try:
            cfg = parse(url, 1)
        except ConfigError as exc:  # a bad ?schema= or ?pool_size= (never the password)
            raise InspectError(str(exc)) from None
        self._cfg = cfg
        self.path: str = cfg.display
        self.schema = cfg.schema
        try:
            self._conn = psycopg.connect(
                cfg.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            raise InspectError(f"cannot open {self.path}: {self._why(exc)}") from None
        try:
            self._conn.execute("SET default_transaction_read_only = on")
            tables = {row[0] for row in self._read(lambda ops: ops.tables(self.schema))}
        except psycopg.Error as exc:
            self._conn.close()
            raise InspectError(f"cannot read {self.path}: {self._why(exc)}") from None
        missing = [t for t in SIDE_TABLES if t not in tables]
        if LIVE_TABLE not in tables or missing:
            self._conn.close()
        if LIVE_TABLE not in tables:
            raise InspectError(
                f"{self.path} has no honker schema {self.schema!r} (no {LIVE_TABLE} table; "
                "?schema= names another)"
            )
        if missing:
            raise InspectError(
                f"schema {self.schema!r} of {self.path} was made by an older honker-py "
                f"(no {', '.join(missing)}): open it once with honker.open() to migrate it"
            )

    def _why(self, exc: BaseException) -> str:
        return str(translate(exc, self._cfg.scrub))

    def _read(self, fn: Callable[[Inspecting], T]) -> T:
        """``fn(ops)`` in one read-only snapshot."""
        conn = self._conn
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

            def fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description is not None else []

            return fn(Inspecting(fetch, self.schema))

    def _call(self, fn: Callable[[Inspecting], T]) -> T:
        try:
            return self._read(fn)
        except psycopg.Error as exc:
            raise translate(exc, self._cfg.scrub) from None

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def queue_counts(self) -> list[dict[str, Any]]:
        """Per queue: ``pending`` (due now), ``processing``, ``delayed``, ``dead``."""
        queues = self._call(lambda ops: ops.overview())["queues"]
        return [{k: q[k] for k in COUNT_KEYS} for q in queues]

    def dead_letters(self, queue: str, limit: int) -> list[dict[str, Any]]:
        return self._call(lambda ops: ops.dead_letters(queue, limit))

    def stream_lags(self) -> list[dict[str, Any]]:
        return self._call(lambda ops: ops.stream_lags())

    def schedules(self) -> list[dict[str, Any]]:
        return self._call(lambda ops: ops.schedule_rows())

    def overview(self) -> dict[str, Any]:
        return self._call(lambda ops: ops.overview())

    def close(self) -> None:
        self._conn.close()


class Inspecting(PostgresOps):
    """The operations over the inspector's snapshot (never a write: the
    session is read-only), plus the table listing the inspector checks."""

    __slots__ = ()

    def tables(self, schema: str) -> list[tuple[Any, ...]]:
        return self._rows("inspect_tables", schema=schema)
