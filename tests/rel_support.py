"""Helpers shared by the reliability tests (tests/conformance/reliability/ and
tests/sqlite/reliability/).

Child processes are started with ``helpers.spawn_child`` and always reaped by
the autouse fixture in tests/conftest.py; these helpers only add what several
reliability tests need: checking a file's integrity from a fresh connection
and killing a child without clean-up (``Lines`` lives in helpers).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from typing import Any

from helpers import Child, Lines, wait_until

__all__ = ["Lines", "intact", "integrity", "scalar", "sigkill"]


def integrity(path: str) -> str:
    """``PRAGMA integrity_check`` from a fresh connection: ``"ok"`` or the problems."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "\n".join(str(r[0]) for r in rows)


def intact(backend: str, db: Any, db_path: str) -> bool:
    """After processes were killed: SQLite's file passes integrity_check; on
    PostgreSQL no session is left inside a transaction (the server rolled the
    killed ones back)."""
    if backend == "sqlite":
        return integrity(db_path) == "ok"
    open_tx = "SELECT count(*) AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
    wait_until(lambda: db.query(open_tx) == [{"n": 0}], timeout=10)
    return True


def scalar(path: str, sql: str, *params: Any) -> Any:
    """One value from a fresh read-only-by-habit connection (never through honker)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def sigkill(child: Child) -> None:
    """SIGKILL the child (no clean-up runs in it) and reap it."""
    if child.proc.poll() is None:
        os.kill(child.proc.pid, signal.SIGKILL)
    child.kill()
