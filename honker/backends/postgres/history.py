"""Throughput counters on PostgreSQL: completed, failed and retried jobs per queue.

As on SQLite (``honker/backends/sqlite/engine/history.py``): an ack deletes
the row, so the database does not remember what was done; the operations
count it (``ops/queues.py``: ack, retry, fail and every way to the dead
letters) into the open transaction's list. The counts are held in memory per
:class:`~honker.backends.postgres.backend.PostgresBackend` and written to
``_honkerpy_throughput`` (per minute of the server's clock, kept ``KEEP_S``)
and ``_honkerpy_totals`` by a committing write transaction, at most every
``FLUSH_EVERY_S``; an idle backend writes what is left within about a second
(a timer) and at close.

Transactions: counts made in a transaction are added to the in-memory totals
only when it commits (a rollback drops them); a flush writes them in the
transaction being committed, so they land exactly when the work does.
Unlike SQLite's single writer, transactions of several threads commit at
once here: a flush *takes* the committed counts (no other transaction can
write them too) and gives them back if its transaction does not commit.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

FLUSH_EVERY_S = 1.0
KEEP_S = 48 * 3600
PRUNE_EVERY_S = 600.0
KINDS = ("completed", "failed", "retried")
COMPLETED, FAILED, RETRIED = range(3)  # indexes into KINDS

# (queue, KINDS index) -> jobs
Counted = dict[tuple[str, int], int]
# Write one queue's counts: (queue, completed, failed, retried).
AddFn = Callable[[str, int, int, int], None]


class Tally:
    """One backend's counts not yet written (see the module docstring).

    ``committed`` holds the counts of committed transactions; ``flushed_at``
    is when the last flush was taken (``time.monotonic()``).
    """

    def __init__(self) -> None:
        self.committed: Counted = {}
        self.flushed_at = -math.inf  # the first counts are written at once
        self.pruned_at = -math.inf
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Counts may be waiting and the last flush is ``FLUSH_EVERY_S`` old."""
        return time.monotonic() - self.flushed_at >= FLUSH_EVERY_S

    def take(self, pending: list[tuple[str, int]]) -> tuple[Counted, bool] | None:
        """If a flush is due and there is something to write: the committed
        counts, now owned by the caller's transaction, and whether to prune
        the history too; else None."""
        with self._lock:
            if not (pending or self.committed) or not self.due():
                return None
            taken, self.committed = self.committed, {}
            now = time.monotonic()
            self.flushed_at = now
            prune = now - self.pruned_at >= PRUNE_EVERY_S
            if prune:
                self.pruned_at = now
            return taken, prune

    @staticmethod
    def write(taken: Counted, pending: list[tuple[str, int]], add: AddFn) -> None:
        """Write ``taken`` and ``pending`` through ``add``, one call per queue."""
        per_queue: dict[str, list[int]] = {}
        for (queue, kind), n in taken.items():
            per_queue.setdefault(queue, [0, 0, 0])[kind] += n
        for queue, kind in pending:
            per_queue.setdefault(queue, [0, 0, 0])[kind] += 1
        for queue in sorted(per_queue):  # one order for every process: no deadlock
            completed, failed, retried = per_queue[queue]
            add(queue, completed, failed, retried)

    def settle(
        self, pending: list[tuple[str, int]], taken: Counted | None, committed: bool
    ) -> None:
        """After COMMIT (``committed``) or ROLLBACK: keep or drop the counts.

        ``taken`` is what :meth:`take` gave this transaction's flush if the
        flush wrote it (pass None when no flush ran, or when it failed and
        was undone: hand its counts back with ``pending`` first, see
        :meth:`give_back`). ``pending`` are the transaction's own counts: kept
        if it committed and no flush wrote them, else dropped.
        """
        if taken is not None and not committed:
            self.give_back(taken)
        elif committed and taken is None and pending:
            with self._lock:
                counts = self.committed
                for key in pending:
                    counts[key] = counts.get(key, 0) + 1

    def give_back(self, taken: Counted) -> None:
        """Return counts a flush took but did not write."""
        if not taken:
            return
        with self._lock:
            counts = self.committed
            for key, n in taken.items():
                counts[key] = counts.get(key, 0) + n
