"""The PostgreSQL coordination operations: locks, rate limits and the scheduler
(statements of ``sql/coord.sql``; tables of ``sql/migrations/003_coord.sql``).

Semantics are SQLite's (``honker/backends/sqlite/engine/locks.py``,
``ratelimit.py``, ``scheduler.py``), with every time from the server's clock.
What PostgreSQL adds is concurrency: transactions of many processes run at
once instead of one writer at a time, so each operation that reads before it
writes locks what it read (a row lock, or ``ON CONFLICT`` on a key) instead of
relying on SQLite's single writer; the comments in ``coord.sql`` say how.
"""

from __future__ import annotations

import functools
from typing import Any

from ...._errors import ConfigError, SQLFunctionError
from ..._catchup import catch_up
from ..._catchup import next_after as _next_after
from ...base import Fire
from ._base import OpsBase
from .queues import insert_job

SCHEDULE_ROW_KEYS = (
    "name",
    "queue",
    "cron_expr",
    "enabled",
    "next_fire_at",
    "priority",
    "expires_s",
    "max_attempts",
)


class CoordOps(OpsBase):
    __slots__ = ()

    # -- locks ------------------------------------------------------------------
    def lock_acquire(self, name: str, owner: str, ttl_s: int) -> int:
        """1 if ``owner`` holds ``name`` afterwards (see ``lock_acquire`` in coord.sql).

        Semantics: an expired row (``expires_at <= now``) is displaced; the
        same owner re-acquiring a live row gets 1 without its TTL refreshed.
        """
        if self._rows("lock_acquire", lock=name, owner=owner, ttl_s=ttl_s):
            return 1
        # Someone's live row: ours (re-entry with the same owner) or another's.
        # A new statement, so it reads the row a concurrent acquirer committed.
        rows = self._rows("lock_owner", lock=name)
        return int(bool(rows) and rows[0][0] == owner)

    def lock_release(self, name: str, owner: str) -> int:
        return self._count("lock_release", lock=name, owner=owner)

    def lock_renew(self, name: str, owner: str, ttl_s: int) -> int:
        if ttl_s <= 0:  # SQLite's one check (sqlite/engine/locks.py), same error
            raise SQLFunctionError("ttl_s must be positive")
        return self._count("lock_renew", lock=name, owner=owner, ttl_s=ttl_s)

    def lock_expires_at(self, name: str) -> int | None:
        rows = self._rows("lock_expires_at", lock=name)
        return None if not rows else int(rows[0][0])

    # -- rate limits --------------------------------------------------------------
    def rate_limit_try(self, name: str, limit: int, per_s: int) -> int:
        """1 if the call fits the current window of ``per_s`` seconds (counted then)."""
        if limit <= 0 or per_s <= 0:  # SQLite's one check (sqlite/engine/ratelimit.py)
            raise ConfigError("limit and per must be positive")
        return self._count("rate_limit_try", rate_limit=name, limit=limit, per_s=per_s)

    def rate_limit_sweep(self, older_than_s: int) -> int:
        return int(self._rows("rate_limit_sweep", older_than_s=older_than_s)[0][0])

    # -- scheduler registrations ------------------------------------------------
    def schedule_register(
        self,
        name: str,
        queue: str,
        cron_expr: str,
        payload: str,
        priority: int,
        expires_s: int | None,
        max_attempts: int,
    ) -> Any:
        """Upsert; the first fire is the first boundary strictly after the server's now."""
        next_fire_at = _next_after(cron_expr, self._server_now())
        self._rows(
            "scheduler_register",
            task=name,
            queue=queue,
            cron_expr=cron_expr,
            payload=payload,
            priority=priority,
            expires_s=expires_s,
            next_fire_at=next_fire_at,
            max_attempts=max(1, max_attempts),
        )
        return 1

    def schedule_unregister(self, name: str) -> int:
        return self._count("scheduler_unregister", task=name)

    def schedule_pause(self, name: str) -> int:
        return self._count("scheduler_pause", task=name)

    def schedule_resume(self, name: str) -> int:
        return self._count("scheduler_resume", task=name)

    def schedule_update(
        self,
        name: str,
        cron_expr: str | None,
        payload: str | None,
        priority: int | None,
        expires_s: int | None,
        touch_expires: int,
        max_attempts: int | None,
        touch_max_attempts: int,
    ) -> int:
        """Change only the given fields; 0 if ``name`` is missing or nothing is given.

        Semantics (SQLite's): the existence check comes first (a bad cron for
        a missing name returns 0); a new cron is parsed before any write and
        recomputes the next fire from now; the write is one statement.
        """
        if not self._rows("scheduler_exists", task=name):
            return 0
        given = (cron_expr, payload, priority)
        if all(v is None for v in given) and not touch_expires and not touch_max_attempts:
            return 0
        next_fire_at = None if cron_expr is None else _next_after(cron_expr, self._server_now())
        return self._count(
            "scheduler_update",
            task=name,
            cron_expr=cron_expr,
            next_fire_at=next_fire_at,
            payload=payload,
            priority=priority,
            touch_expires=bool(touch_expires),
            expires_s=expires_s,
            touch_max_attempts=bool(touch_max_attempts),
            max_attempts=3 if max_attempts is None else max(1, max_attempts),
        )

    def schedule_list(self) -> list[tuple[Any, ...]]:
        return self._rows("scheduler_list")

    def schedule_count(self) -> int:
        return int(self._rows("scheduler_count")[0][0])

    # -- the tick and the leader step --------------------------------------------
    def schedule_tick(self, now_unix: int) -> list[Fire]:
        """Enqueue every boundary due at ``now_unix``; returns the fires
        ``(fire_at, job_id, name, queue)``.

        Semantics (SQLite's): missed boundaries are caught up one at a time,
        at most ``MAX_CATCHUP_FIRES`` (``backends/_catchup.py``) per task per tick, past which the
        backlog is skipped to the next boundary after ``now_unix``. The due
        rows stay locked until commit, so concurrent ticks never fire a
        boundary twice (``scheduler_due`` in coord.sql).
        """
        fires: list[Fire] = []
        due = self._rows("scheduler_due", now=now_unix)
        for name, queue, expr, payload, priority, expires_s, next_fire_at, max_attempts in due:
            enqueue = functools.partial(
                insert_job, self, queue, payload, None, None, priority, max_attempts, expires_s
            )
            fired, next_fire_at = catch_up(expr, next_fire_at, now_unix, enqueue)
            fires += [(fire_at, job_id, name, queue) for fire_at, job_id in fired]
            self._rows("scheduler_set_next", task=name, next_fire_at=next_fire_at)
        return fires

    def lead_step(
        self, lock_name: str, owner: str, ttl_s: int, now_unix: int
    ) -> tuple[bool, list[Fire], int]:
        """One scheduler-leader iteration: check and renew the lock, tick, and
        read the soonest next fire (0: no enabled schedule).

        Semantics: not leading (False) when the lock row is gone or another
        owner's. The renewal is skipped when it would not move ``expires_at``
        (same second), so an idle leader's step writes nothing: a write would
        send a NOTIFY at commit that wakes this very loop. Otherwise the
        renewal is an ``UPDATE ... WHERE owner = me``, which waits for a
        concurrent takeover and then finds the row no longer ours, so a
        leader whose expired lock was taken over does not tick again.
        """
        rows = self._rows("lock_row_now", lock=lock_name)
        if not rows or rows[0][0] != owner:
            return False, [], 0
        _, expires_at, now = rows[0]
        if expires_at != now + ttl_s and not self.lock_renew(lock_name, owner, ttl_s):
            return False, [], 0
        fires = self.schedule_tick(now_unix)
        return True, fires, int(self._rows("scheduler_soonest")[0][0])

    # -- the overview's parts -------------------------------------------------------
    def schedule_rows(self) -> list[dict[str, Any]]:
        """Every schedule by name, keyed as SQLite's ``inspect.schedules``:
        ``name, queue, cron_expr, enabled`` (bool), ``next_fire_at, priority,
        expires_s, max_attempts``."""
        out = []
        for row in self._rows("scheduler_rows"):
            item = dict(zip(SCHEDULE_ROW_KEYS, row, strict=True))
            item["enabled"] = bool(item["enabled"])
            out.append(item)
        return out

    def lock_rows(self) -> list[dict[str, Any]]:
        """Every lock row by name: ``name, owner, expires_at`` (a row past its
        expiry is free to take)."""
        keys = ("name", "owner", "expires_at")
        return [dict(zip(keys, row, strict=True)) for row in self._rows("lock_rows")]

    def rate_limit_rows(self) -> list[dict[str, Any]]:
        """Each rate limit's newest window by name: ``name, window_start, count``."""
        keys = ("name", "window_start", "count")
        return [dict(zip(keys, row, strict=True)) for row in self._rows("rate_limit_rows")]

    def _server_now(self) -> int:
        return int(self._rows("now")[0][0])
