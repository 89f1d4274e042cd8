"""Schedules: the cron grammar and next-fire calculation (``expr.py``, pure
functions, byte-compatible with honker's parser) and the ``CronSchedule``
values users pass (``schedule.py``)."""

from __future__ import annotations

from .expr import next_after
from .schedule import CronSchedule, crontab, every_s

__all__ = ["CronSchedule", "crontab", "every_s", "next_after"]
