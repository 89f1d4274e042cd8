"""Throughput counters: completed, failed and retried jobs per queue.

Ack deletes the row, so the database does not remember what was done; this
module counts it. Counts are made where the operation happens (``ack``,
``retry``, ``_bury`` in ``queue.py``: every job that reaches the dead letters
counts as failed) on a connection that has a :class:`Tally` (the backend's
writer, including honker's SQL functions called through it). They are held
in memory and written to ``_honkerpy_throughput`` (per minute of the database
clock, kept ``KEEP_S``) and ``_honkerpy_totals`` by :meth:`Tally.flush`, which
the backend runs inside a write transaction at most every ``FLUSH_EVERY_S``.

Transactions: counts made in a transaction are ``pending`` until it commits
(a rollback drops them); a flush writes pending and committed counts in the
transaction being committed, so they land exactly when the work does.
"""

from __future__ import annotations

import math
import sqlite3
import time

from ..sql import Q

FLUSH_EVERY_S = 1.0
KEEP_S = 48 * 3600
PRUNE_EVERY_S = 600.0
KINDS = ("completed", "failed", "retried")

_TALLIES: dict[sqlite3.Connection, Tally] = {}


class Tally:
    """In-memory counts of one connection's transactions (see the module docstring).

    Kept cheap on the hot path: an ack appends one key to ``pending``; the
    commit moves it into ``committed``, a plain dict.
    """

    __slots__ = ("committed", "flushed_at", "pending", "pruned_at")

    def __init__(self) -> None:
        self.pending: list[tuple[str, int]] = []  # (queue, KINDS index) per job
        self.committed: dict[tuple[str, int], int] = {}
        self.flushed_at = -math.inf  # the first counts are written at once
        self.pruned_at = -math.inf

    def due(self) -> bool:
        """Counts are waiting and the last flush is ``FLUSH_EVERY_S`` old."""
        return bool(self.pending or self.committed) and (
            time.monotonic() - self.flushed_at >= FLUSH_EVERY_S
        )

    def flush(self, conn: sqlite3.Connection) -> None:
        """Write every count into the open transaction; :meth:`settle` clears them."""
        per_queue: dict[str, list[int]] = {}
        for (queue, kind), n in self.committed.items():
            per_queue.setdefault(queue, [0, 0, 0])[kind] += n
        for queue, kind in self.pending:
            per_queue.setdefault(queue, [0, 0, 0])[kind] += 1
        for queue, (completed, failed, retried) in per_queue.items():
            conn.execute(Q["history_add"], (queue, completed, failed, retried))
            conn.execute(Q["totals_add"], (queue, completed, failed, retried))
        now = time.monotonic()
        if now - self.pruned_at >= PRUNE_EVERY_S:
            conn.execute(Q["history_prune"], (KEEP_S,))
            self.pruned_at = now

    def settle(self, committed: bool, flushed: bool) -> None:
        """After COMMIT (``committed``) or ROLLBACK: move or drop the counts."""
        pending = self.pending
        if not pending and not flushed:
            return  # most transactions count nothing (a claim, an enqueue)
        if committed and flushed:
            self.committed.clear()
            self.flushed_at = time.monotonic()
        elif committed:
            counts = self.committed
            for key in pending:
                counts[key] = counts.get(key, 0) + 1
        pending.clear()


def attach(conn: sqlite3.Connection) -> Tally:
    """Count this connection's work from now on."""
    tally = _TALLIES[conn] = Tally()
    return tally


def detach(conn: sqlite3.Connection) -> None:
    _TALLIES.pop(conn, None)


COMPLETED, FAILED, RETRIED = range(3)  # indexes into KINDS


def count(conn: sqlite3.Connection, queue: str, kind: int) -> None:
    """Count one job of ``queue`` as ``KINDS[kind]``, if ``conn`` is counted."""
    tally = _TALLIES.get(conn)
    if tally is not None:
        tally.pending.append((queue, kind))
