"""Schedule values: ``CronSchedule``, ``crontab()`` and ``every_s()`` (docs/spec/python-api.md
§15.1).

A schedule is only an expression string checked by the grammar in
:mod:`honker.cron.expr`; the scheduler stores ``schedule.expr`` in
``_honker_scheduler_tasks`` and every later computation re-parses it there.
"""

from __future__ import annotations

from datetime import datetime

from .._errors import ParameterError, ScheduleError
from .expr import next_after as _next_after

EVERY_REJECTED = "use every_s(...) for interval schedules"
EVERY_S_NOT_POSITIVE = "every_s(seconds) requires a positive integer"


class CronSchedule:
    """A validated schedule expression (cron fields or ``@every <n><unit>``).

    Semantics:
    - construction parses ``expr`` and computes one boundary after unix time 0,
      so an expression that can never fire is rejected up front;
    - calendar forms are evaluated in the system local time zone;
    - no equality or hashing beyond identity (as in honker).

    Raises :class:`honker.ScheduleError` (a ``ValueError``) with the parser's
    message for an invalid expression.

    Example::

        nightly = honker.CronSchedule("0 3 * * *")
        nightly.next_after(datetime(2026, 1, 1))   # datetime(2026, 1, 1, 3, 0)
    """

    __slots__ = ("expr",)

    def __init__(self, expr: str) -> None:
        if not isinstance(expr, str):
            raise ParameterError(f"schedule expression must be a str, got {type(expr).__name__}")
        _next_after(expr, 0)
        self.expr = expr

    def next_after(self, dt: datetime) -> datetime:
        """The next boundary strictly after ``dt``, as a naive local ``datetime``.

        Semantics: ``dt`` is truncated to whole seconds; a naive ``dt`` is read
        as local time (``datetime.timestamp`` rules).
        """
        return datetime.fromtimestamp(_next_after(self.expr, int(dt.timestamp())))

    def __repr__(self) -> str:
        # honker prints every schedule this way, interval ones included.
        return f"crontab({self.expr!r})"


def crontab(expr: str) -> CronSchedule:
    """A calendar schedule from 5 (minute-precision) or 6 (second-precision) cron fields.

    Semantics: day-of-month AND day-of-week must both match; ``@every``
    expressions are refused here (use :func:`every_s`).

    Raises ``ValueError`` for ``@every`` or an invalid expression.

    Example::

        db.periodic_task(honker.crontab("*/5 * * * *"))(cleanup)
    """
    if isinstance(expr, str) and expr.strip().startswith("@every"):
        raise ScheduleError(EVERY_REJECTED)
    return CronSchedule(expr)


def every_s(seconds: int) -> CronSchedule:
    """An interval schedule firing every ``int(seconds)`` seconds.

    Semantics: the expression is ``"@every <n>s"``; the first fire is ``n``
    seconds after registration (intervals are not aligned to the clock).

    Raises ``ValueError`` when ``int(seconds) <= 0``.

    Example::

        scheduler.add(name="ping", queue="health", schedule=honker.every_s(30))
    """
    n = int(seconds)
    if n <= 0:
        raise ScheduleError(EVERY_S_NOT_POSITIVE)
    return CronSchedule(f"@every {n}s")
