"""Opening SQLite connections with honker's PRAGMAs, and reading rows.

Every connection this backend opens (the writer and the pooled readers) gets
the same PRAGMAs as honker's writer (docs/spec/engine.md §2), so a file is
configured identically whichever binding opened it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

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
SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def _text(raw: bytes) -> str:
    """TEXT column values; invalid UTF-8 reads as "" as in honker
    (docs/spec/python-api.md §6)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""


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


def read_rows(conn: sqlite3.Connection, sql: str, params: Any) -> list[Any]:
    """All rows of a read-only statement, TEXT decoded by sqlite3's own C path.

    The connections' ``_text`` factory (honker's rule: invalid UTF-8 reads as
    "") is a Python call per TEXT value, a third of the cost of reading a
    stream event; here it is used only when a value is not valid UTF-8, by
    reading again. Only for statements that change nothing (a SELECT can be
    run twice; an UPDATE ... RETURNING cannot).
    """
    factory = conn.text_factory
    conn.text_factory = str
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if not str(exc).startswith("Could not decode to UTF-8"):
            raise
    finally:
        conn.text_factory = factory
    return conn.execute(sql, params).fetchall()


def rollback(conn: sqlite3.Connection) -> None:
    """ROLLBACK, ignoring "no transaction is active"."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # SQLite already rolled back (e.g. after SQLITE_FULL)


def rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """All rows of ``cur`` as dicts keyed by column name (a repeated name: last wins)."""
    desc = cur.description
    if desc is None:
        return []
    names = [d[0] for d in desc]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
