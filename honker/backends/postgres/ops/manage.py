"""The PostgreSQL job-management operations: stats, listing, dead letters,
pause, throughput and the overview (statements of ``sql/manage.sql``).

The payload filter ``where`` arrives as honker's JSON object text
(``{"$.user_id": 42}``, ``honker/_manage.py``); :func:`where_params` turns it
into the parallel arrays of paths and values that ``_honkerpy_where``
(``migrations/004_manage.sql``) compares with SQLite's JSON comparison.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...base import empty_counts
from ._base import OpsBase


def where_params(where: str | None) -> dict[str, list[str] | None]:
    """``paths`` and ``vals`` for the ``where_filter`` fragment (None: no filter).

    Semantics: each path is evaluated in jsonpath's ``strict`` mode (as
    SQLite's json_extract, it does not unwrap arrays); a ``true``/``false``
    value is sent as 1/0, since SQLite's JSON comparison sees JSON booleans as
    those integers (the SQL function does the same to the payload's side).
    """
    if where is None:
        return {"paths": None, "vals": None}
    terms = json.loads(where)
    paths = ["strict " + path for path in terms]
    vals = [json.dumps(int(v) if isinstance(v, bool) else v) for v in terms.values()]
    return {"paths": paths, "vals": vals}


def _limit(n: int) -> int | None:
    """SQL's LIMIT for the API's ``n`` (-1: no limit)."""
    return None if n < 0 else n


class ManageOps(OpsBase):
    __slots__ = ()

    # -- counts and listings ------------------------------------------------------
    def queue_stats(self, queue: str) -> dict[str, Any]:
        (row,) = self._rows("manage_stats", queue=queue)
        pending, delayed, processing, dead, oldest_age, paused = row
        return {
            "pending": pending,
            "delayed": delayed,
            "processing": processing,
            "dead": dead,
            "oldest_due_age_s": oldest_age,
            "paused": bool(paused),
        }

    def list_jobs(
        self, queue: str, state: str | None, limit: int, after_id: int, where: str | None
    ) -> list[tuple[Any, ...]]:
        args = {"queue": queue, "after": after_id, "limit": limit, **where_params(where)}
        live = [] if state == "dead" else self._rows("manage_jobs_live", state=state, **args)
        if state not in (None, "dead"):
            return live
        dead = self._rows("manage_jobs_dead", **args)
        return sorted(live + dead)[:limit] if state is None else dead

    def dead_letters(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` dead rows of ``queue`` (``honker dead``), as dicts."""
        keys = ("id", "queue", "attempts", "max_attempts", "died_at", "last_error", "payload")
        rows = self._rows("dead_letters", queue=queue, limit=limit)
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- dead letters and pending jobs ----------------------------------------------
    def dead_ids(
        self,
        queue: str,
        ids: Sequence[int] | None,
        where: str | None,
        older_than_s: int | None,
        limit: int,
    ) -> list[int]:
        rows = self._rows(
            "manage_dead_ids",
            queue=queue,
            ids=None if ids is None else list(ids),
            older_than_s=older_than_s,
            limit=_limit(limit),
            **where_params(where),
        )
        return [int(row[0]) for row in rows]

    def requeue_dead(self, ids: Sequence[int]) -> int:
        return self._count("manage_requeue", ids=list(ids)) if ids else 0

    def delete_dead(self, ids: Sequence[int]) -> int:
        return self._count("manage_delete_dead", ids=list(ids)) if ids else 0

    def run_now(self, queue: str, job_id: int) -> int:
        return self._count("manage_run_now", queue=queue, id=job_id)

    def cancel_pending(self, queue: str, job_id: int) -> int:
        return self._count("manage_cancel_pending", queue=queue, id=job_id)

    def cancel_where(self, queue: str, where: str) -> int:
        return self._count("manage_cancel_where", queue=queue, **where_params(where))

    # -- pause ------------------------------------------------------------------------
    def set_paused(self, queue: str, paused: bool) -> int:
        return self._count("queue_pause" if paused else "queue_resume", queue=queue)

    def is_paused(self, queue: str) -> bool:
        return bool(self._rows("queue_paused", queue=queue)[0][0])

    # -- throughput -------------------------------------------------------------------
    def throughput(self, queue: str, minutes: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        rows = self._rows("history_read", queue=queue, minutes=minutes)
        now_minute = int(rows[0][0])
        return now_minute, [(row[1], row[2], row[3], row[4]) for row in rows if row[1] is not None]

    def throughput_totals(self) -> list[tuple[str, int, int, int]]:
        return [(row[0], row[1], row[2], row[3]) for row in self._rows("totals_read")]

    def add_throughput(self, queue: str, completed: int, failed: int, retried: int) -> None:
        """Add counts to ``queue``'s current minute and all-time totals (history.py)."""
        counts = {"queue": queue, "completed": completed, "failed": failed, "retried": retried}
        self._rows("history_add", **counts)
        self._rows("totals_add", **counts)

    def prune_throughput(self, keep_s: int) -> None:
        """Forget the minutes older than ``keep_s`` seconds."""
        self._rows("history_prune", keep_s=keep_s)

    # -- the overview -----------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        """Every queue's counts, oldest due age, pause flag and all-time
        counters (one statement: one snapshot), then the parts of the other
        concepts (streams, schedules, locks, rate limits); the keys of
        ``honker/backends/sqlite/inspect.py``'s ``overview``.

        Cost: the counts read the partial indexes of pending and processing
        rows and the dead letters' (queue, id) index, grouped by queue; a
        queue's delayed jobs cost an index entry each, as on SQLite.
        """
        queues: dict[str, dict[str, Any]] = {}
        paused: set[str] = set()
        totals: dict[str, tuple[int, int, int]] = {}
        now = 0

        def row(name: str) -> dict[str, Any]:
            return queues.setdefault(name, empty_counts(name))

        for part, name, a, b, c in self._rows("overview_rows"):
            if part == "pending":
                r = row(name)
                r["pending"], r["delayed"], r["oldest_run_at"] = a, b, c
            elif part in ("processing", "dead"):
                row(name)[part] = a
            elif part == "paused":
                paused.add(name)
            elif part == "totals":
                totals[name] = (a, b, c)
            else:
                now = int(a)
        for name in (*paused, *totals):
            row(name)
        for name, item in queues.items():
            oldest = item.pop("oldest_run_at")
            due = item["pending"] and oldest is not None
            item["oldest_due_age_s"] = now - oldest if due else None
            item["paused"] = name in paused
            item["completed"], item["failed"], item["retried"] = totals.get(name, (0, 0, 0))
        return {
            "now": now,
            "queues": [queues[name] for name in sorted(queues)],
            "streams": self.stream_lags(),
            "schedules": self.schedule_rows(),
            "locks": self.lock_rows(),
            "rate_limits": self.rate_limit_rows(),
        }
