"""Fixed-window rate limits (docs/spec/engine.md §4.4)."""

from __future__ import annotations

import sqlite3

from ...._errors import ConfigError
from ..sql import Q


def try_acquire(conn: sqlite3.Connection, name: str, limit: int, per: int) -> int:
    """``honker_rate_limit_try``: count one call in the current window; 1 if allowed.

    The window is ``(now // per) * per``; a rejected call is not counted.
    """
    if limit <= 0 or per <= 0:  # the one check, for the API and the SQL function
        raise ConfigError("limit and per must be positive")
    return conn.execute(Q["rate_limit_try"], (name, per, limit)).rowcount


def sweep(conn: sqlite3.Connection, older_than_s: int) -> int:
    """``honker_rate_limit_sweep``: delete windows that started before now - older_than_s."""
    return conn.execute(Q["rate_limit_sweep"], (older_than_s,)).rowcount
