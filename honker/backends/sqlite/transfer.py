"""Moving a database with ``honker migrate`` (``honker/_transfer.py``): the
SQLite side of the ``transfer_*`` operations, statements of ``sql/transfer.sql``.

Semantics:
- the export runs in the writer's transaction, which holds SQLite's write
  lock (``transfer_freeze`` has nothing more to do): no process commits to the
  file while it is read, so the copy is one consistent state and a producer
  waits (its busy timeout) rather than writing a job the copy would miss;
- a table the file does not have (a database that never used streams, a file
  of an older honker) counts 0 rows and exports none;
- rows are inserted with every column as it is, ids included; AUTOINCREMENT
  counters are then raised to the source's (``sequences``), never lowered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from .sql import Q

# The table behind each kind of TRANSFER_COLUMNS (honker/backends/base.py).
TABLES = {
    "jobs": "_honker_live",
    "dead": "_honker_dead",
    "results": "_honker_results",
    "stream": "_honker_stream",
    "stream_consumers": "_honker_stream_consumers",
    "schedules": "_honker_scheduler_tasks",
    "sequences": "sqlite_sequence",
}


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLES[table],)
    ).fetchone()
    return row is not None


def count(conn: sqlite3.Connection, table: str) -> int:
    if not _exists(conn, table):
        return 0
    return int(conn.execute(Q[f"transfer_count_{table}"]).fetchone()[0])


def export(conn: sqlite3.Connection, table: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    if not _exists(conn, table):
        return
    cur = conn.execute(Q[f"transfer_export_{table}"])
    while rows := cur.fetchmany(batch):
        yield rows


def import_rows(conn: sqlite3.Connection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if table == "sequences":
        for kind, last_value in rows:
            args = {"kind": kind, "last_value": last_value}
            conn.execute(Q["transfer_import_sequences"], args)
            conn.execute(Q["transfer_import_sequences_missing"], args)
        return
    conn.executemany(Q[f"transfer_import_{table}"], rows)


def held_claims(conn: sqlite3.Connection) -> int:
    if not _exists(conn, "jobs"):
        return 0
    return int(conn.execute(Q["transfer_held_claims"]).fetchone()[0])
