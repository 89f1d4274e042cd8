"""Advisory locks with a TTL (docs/spec/engine.md §4.3). No fencing token."""

from __future__ import annotations

import sqlite3

from ...._errors import SQLFunctionError
from ..sql import Q


def acquire(conn: sqlite3.Connection, name: str, owner: str, ttl: int) -> int:
    """``honker_lock_acquire``: 1 if ``owner`` holds ``name`` afterwards.

    Semantics: an expired row (``expires_at <= now``) is removed first; the
    same owner re-acquiring gets 1 without its TTL being refreshed.
    """
    conn.execute(Q["lock_delete_expired"], (name,))
    conn.execute(Q["lock_insert"], (name, owner, ttl))
    row = conn.execute(Q["lock_owner"], (name,)).fetchone()
    return int(row is not None and row[0] == owner)


def release(conn: sqlite3.Connection, name: str, owner: str) -> int:
    """``honker_lock_release``: rows deleted (0 when someone else holds it)."""
    return conn.execute(Q["lock_release"], (name, owner)).rowcount


def renew(conn: sqlite3.Connection, name: str, owner: str, ttl_s: int) -> int:
    """``honker_lock_renew``: extend to now + ttl_s; does not check expiry."""
    if ttl_s <= 0:  # the one check, for the API and the SQL function
        raise SQLFunctionError("ttl_s must be positive")
    return conn.execute(Q["lock_renew"], (name, owner, ttl_s)).rowcount
