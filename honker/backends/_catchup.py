"""The scheduler's catch-up rule, shared by both backends' tick
(``sqlite/engine/scheduler.py``, ``postgres/ops/coord.py``).

A task's missed boundaries are fired one at a time, at most
``MAX_CATCHUP_FIRES`` per task per tick; past that the backlog is skipped and
the task jumps to its next boundary after now (honker's rule).
"""

from __future__ import annotations

from collections.abc import Callable

MAX_CATCHUP_FIRES = 64  # honker's SCHEDULER_MAX_CATCHUP_FIRES


def next_after(expr: str, from_unix: int) -> int:
    """The first boundary of the cron expression ``expr`` strictly after ``from_unix``."""
    from ..cron.expr import next_after as _next  # imported late: the cron module is large

    return _next(expr, from_unix)


def catch_up(
    expr: str, next_fire_at: int, now_unix: int, enqueue: Callable[[], int]
) -> tuple[list[tuple[int, int]], int]:
    """Fire each boundary of ``expr`` from ``next_fire_at`` up to ``now_unix``
    (``enqueue()`` enqueues one job and returns its id), within the catch-up
    bound. Returns the fires ``(fire_at, job_id)`` and the task's new next
    boundary."""
    fires: list[tuple[int, int]] = []
    while next_fire_at <= now_unix:
        if len(fires) >= MAX_CATCHUP_FIRES:
            return fires, next_after(expr, now_unix)
        fires.append((next_fire_at, enqueue()))
        next_fire_at = next_after(expr, next_fire_at)
    return fires, next_fire_at
