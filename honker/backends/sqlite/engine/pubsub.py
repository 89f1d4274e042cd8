"""``notify()`` and notification pruning (docs/spec/engine.md §4.1, §5.2)."""

from __future__ import annotations

import sqlite3

from ...._marshal import I64_MAX
from ..connection import read_rows
from ..sql import Q


def notify(conn: sqlite3.Connection, channel: str, payload: str) -> int:
    """``notify(channel, payload)``: insert one row, return its id (transactional)."""
    return conn.execute(Q["notify"], (channel, payload)).lastrowid  # type: ignore[return-value]


def max_id(conn: sqlite3.Connection, channel: str) -> int:
    """The newest notification id of ``channel`` (0 when there is none)."""
    return int(conn.execute(Q["notify_max_id"], (channel,)).fetchone()[0])


def since(conn: sqlite3.Connection, channel: str, after_id: int) -> list[tuple[int, str, str, int]]:
    """Rows of ``channel`` with ``id > after_id`` in id order."""
    return read_rows(conn, Q["notify_since"], (channel, after_id))


def prune(conn: sqlite3.Connection, older_than_s: int | None, max_keep: int | None) -> int:
    """Delete notifications older than ``older_than_s`` OR beyond the newest ``max_keep``.

    ``max_keep`` above 2**63-1 contributes no condition (honker's behaviour).
    """
    if max_keep is not None and max_keep > I64_MAX:
        max_keep = None
    if older_than_s is None and max_keep is None:
        return 0
    return conn.execute(Q["notify_prune"], (older_than_s, max_keep)).rowcount
