"""Job results keyed by job id (docs/spec/engine.md §4.5); not linked to live or dead rows."""

from __future__ import annotations

import sqlite3

from ..sql import Q


def save(conn: sqlite3.Connection, job_id: int, value: str, ttl_s: int) -> int:
    """``honker_result_save``: upsert; ``ttl_s <= 0`` means it never expires."""
    conn.execute(Q["result_save"], (job_id, value, ttl_s))
    return 1


def get(conn: sqlite3.Connection, job_id: int) -> str | None:
    """``honker_result_get``: the stored text, or None if absent or expired."""
    row = conn.execute(Q["result_get"], (job_id,)).fetchone()
    return None if row is None else row[0]


def sweep(conn: sqlite3.Connection) -> int:
    """``honker_result_sweep``: delete expired results database-wide."""
    return conn.execute(Q["result_sweep"]).rowcount
