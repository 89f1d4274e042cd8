"""The PostgreSQL coordination operations: locks, rate limits and the scheduler."""

from __future__ import annotations

from typing import Any

from ...base import Fire
from ._base import OpsBase, missing


class CoordOps(OpsBase):
    __slots__ = ()

    # -- locks, rate limits, scheduler (a later slice) ------------------------
    def lock_acquire(self, name: str, owner: str, ttl_s: int) -> int:
        missing("db.lock()")

    def lock_release(self, name: str, owner: str) -> int:
        missing("db.lock()")

    def lock_renew(self, name: str, owner: str, ttl_s: int) -> int:
        missing("db.lock()")

    def lock_expires_at(self, name: str) -> int | None:
        missing("db.lock()")

    def rate_limit_try(self, name: str, limit: int, per_s: int) -> int:
        missing("db.try_rate_limit()")

    def rate_limit_sweep(self, older_than_s: int) -> int:
        missing("db.sweep_rate_limits()")

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
        missing("the Scheduler")

    def schedule_unregister(self, name: str) -> int:
        missing("the Scheduler")

    def schedule_pause(self, name: str) -> int:
        missing("the Scheduler")

    def schedule_resume(self, name: str) -> int:
        missing("the Scheduler")

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
        missing("the Scheduler")

    def schedule_list(self) -> list[tuple[Any, ...]]:
        missing("the Scheduler")

    def schedule_count(self) -> int:
        missing("the Scheduler")

    def schedule_tick(self, now_unix: int) -> list[Fire]:
        missing("the Scheduler")

    def lead_step(
        self, lock_name: str, owner: str, ttl_s: int, now_unix: int
    ) -> tuple[bool, list[Fire], int]:
        missing("the Scheduler")
