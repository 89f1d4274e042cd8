"""What every PostgreSQL operation module builds on: run a named statement.

An operation only needs "run this statement, give me its rows"
(:data:`Fetch`): the backend's own transactions pass a psycopg cursor's, and a
foreign ``tx=`` object passes its ``query(sql, params)`` (``backend.py``,
``run_foreign``), so each operation is written once for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..sql import queries

# Run one statement with named parameters; its rows (none for a statement
# without a result).
Fetch = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]
# Where an operation counts the jobs it finished, (queue, history kind) each,
# for the throughput history (``history.py``); None: not counted.
Counts = list[tuple[str, int]]


class OpsBase:
    """One open transaction's statement runner; the concept modules' mixins use it."""

    __slots__ = ("_counts", "_fetch", "_q")

    def __init__(self, fetch: Fetch, schema: str, counts: Counts | None = None) -> None:
        self._fetch = fetch
        self._q = queries(schema)
        self._counts = counts

    def _tally(self, queue: str, kind: int, n: int = 1) -> None:
        """Count ``n`` jobs of ``queue`` as ``history.KINDS[kind]`` (if counted)."""
        if self._counts is not None:
            self._counts.extend([(queue, kind)] * n)

    def _rows(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        return self._fetch(self._q[name], params)

    def _count(self, name: str, **params: Any) -> int:
        return len(self._rows(name, **params))

    # -- the overview's parts owned by other concepts ---------------------------
    # ``manage.overview()`` calls these; the module of each concept overrides
    # its own (pubsub: stream_lags; coord: the other three) with rows shaped as
    # ``honker/backends/sqlite/inspect.py``'s. Until a concept exists on
    # PostgreSQL its part of the overview is empty.
    def stream_lags(self) -> list[dict[str, Any]]:
        """Per topic and consumer: ``topic``, ``consumer``, ``offset``, ``max_offset``, ``lag``."""
        return []

    def schedule_rows(self) -> list[dict[str, Any]]:
        """Every schedule, by name: ``name``, ``queue``, ``cron_expr``, ``enabled``,
        ``next_fire_at``, ``priority``, ``expires_s``, ``max_attempts``."""
        return []

    def lock_rows(self) -> list[dict[str, Any]]:
        """Every lock row: ``name``, ``owner``, ``expires_at``."""
        return []

    def rate_limit_rows(self) -> list[dict[str, Any]]:
        """Each rate limit's newest window: ``name``, ``window_start``, ``count``."""
        return []
