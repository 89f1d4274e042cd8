"""Schedule registry and the tick (docs/spec/engine.md §4.7, §5.5).

Leader election is the Python scheduler's job; the tick itself is safe under
concurrent tickers because it runs in the caller's write transaction and
advances ``next_fire_at`` before returning.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from ..._catchup import catch_up
from ..._catchup import next_after as _next_after
from ..sql import Q
from . import queue as _queue


def _now(conn: sqlite3.Connection) -> int:
    return int(conn.execute(Q["now"]).fetchone()[0])


def register(
    conn: sqlite3.Connection,
    name: str,
    queue: str,
    cron_expr: str,
    payload: str,
    priority: int,
    expires_s: int | None,
    max_attempts: int = 3,
) -> int:
    """``honker_scheduler_register``: upsert; first fire strictly after now.

    ``enabled`` is not in the update list, so re-registering a paused schedule
    leaves it paused.
    """
    next_fire_at = _next_after(cron_expr, _now(conn))
    conn.execute(
        Q["scheduler_register"],
        (name, queue, cron_expr, payload, priority, expires_s, next_fire_at, max(1, max_attempts)),
    )
    return 1


def unregister(conn: sqlite3.Connection, name: str) -> int:
    """``honker_scheduler_unregister``: rows deleted."""
    return conn.execute(Q["scheduler_unregister"], (name,)).rowcount


def pause(conn: sqlite3.Connection, name: str) -> int:
    """``honker_scheduler_pause``: 1 only if it was enabled."""
    return conn.execute(Q["scheduler_pause"], (name,)).rowcount


def resume(conn: sqlite3.Connection, name: str) -> int:
    """``honker_scheduler_resume``: 1 only if it was paused; next_fire_at kept."""
    return conn.execute(Q["scheduler_resume"], (name,)).rowcount


def soonest(conn: sqlite3.Connection) -> int:
    """``honker_scheduler_soonest``: min next_fire_at of enabled rows, or 0."""
    try:
        return int(conn.execute(Q["scheduler_soonest"]).fetchone()[0])
    except sqlite3.Error:
        return 0


def list_tasks(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """``honker_scheduler_list``: rows by name, columns in ``SCHEDULE_COLUMNS``
    order (honker/backends/base.py)."""
    return conn.execute(Q["scheduler_list"]).fetchall()


_UNSET: Any = object()


def update(
    conn: sqlite3.Connection,
    name: str,
    cron_expr: str | None,
    payload: str | None,
    priority: int | None,
    expires_s: int | None,
    touch_expires: int,
    max_attempts: int | None = None,
    touch_max_attempts: int = 0,
) -> int:
    """``honker_scheduler_update``: change only the given fields; 0 if missing or nothing given.

    Semantics: the existence check comes first (a bad cron for a missing name
    returns 0); a new cron is parsed before any write; writes happen inside a
    savepoint so an error leaves the row untouched.
    """
    if conn.execute(Q["scheduler_exists"], (name,)).fetchone() is None:
        return 0
    sets: list[str] = []
    args: list[Any] = []
    if cron_expr is not None:
        next_fire_at = _next_after(cron_expr, _now(conn))
        sets += ["cron_expr = ?", "next_fire_at = ?"]
        args += [cron_expr, next_fire_at]
    if payload is not None:
        sets.append("payload = ?")
        args.append(payload)
    if priority is not None:
        sets.append("priority = ?")
        args.append(priority)
    if touch_expires:
        sets.append("expires_s = ?")
        args.append(expires_s)
    if touch_max_attempts:
        sets.append("max_attempts = ?")
        args.append(3 if max_attempts is None else max(1, max_attempts))
    if not sets:
        return 0
    conn.execute("SAVEPOINT honker_sched_update")
    try:
        conn.execute(
            f"UPDATE _honker_scheduler_tasks SET {', '.join(sets)} WHERE name = ?", (*args, name)
        )
    except BaseException:
        conn.execute("ROLLBACK TO SAVEPOINT honker_sched_update")
        conn.execute("RELEASE SAVEPOINT honker_sched_update")
        raise
    conn.execute("RELEASE SAVEPOINT honker_sched_update")
    return 1


def tick(conn: sqlite3.Connection, now_unix: int) -> list[tuple[int, int, str, str]]:
    """``honker_scheduler_tick``: enqueue every due boundary; returns the fires.

    Each fire is ``(fire_at, job_id, name, queue)``. Missed boundaries are
    caught up one at a time, at most ``MAX_CATCHUP_FIRES`` per task per tick
    (``backends/_catchup.py``);
    past that the backlog is skipped and the task jumps to the next boundary
    after ``now_unix``.
    """
    fires: list[tuple[int, int, str, str]] = []
    due = conn.execute(Q["scheduler_due"], (now_unix,)).fetchall()
    for name, queue, expr, payload, priority, expires_s, next_fire_at, max_attempts in due:
        enqueue = functools.partial(
            _queue.enqueue, conn, queue, payload, None, None, priority, max_attempts, expires_s
        )
        fired, next_fire_at = catch_up(expr, next_fire_at, now_unix, enqueue)
        fires += [(fire_at, job_id, name, queue) for fire_at, job_id in fired]
        conn.execute(Q["scheduler_set_next"], (name, next_fire_at))
    return fires
