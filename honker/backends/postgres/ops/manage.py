"""The PostgreSQL job-management operations: stats, listing, dead letters, pause, throughput."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import OpsBase, missing


class ManageOps(OpsBase):
    __slots__ = ()

    # -- job management (a later slice) -------------------------------------
    def queue_stats(self, queue: str) -> dict[str, Any]:
        missing("Queue.stats()")

    def list_jobs(
        self, queue: str, state: str | None, limit: int, after_id: int, where: str | None
    ) -> list[tuple[Any, ...]]:
        missing("Queue.jobs()")

    def dead_ids(
        self,
        queue: str,
        ids: Sequence[int] | None,
        where: str | None,
        older_than_s: int | None,
        limit: int,
    ) -> list[int]:
        missing("dead-letter management (requeue_dead, delete_dead)")

    def requeue_dead(self, ids: Sequence[int]) -> int:
        missing("Queue.requeue_dead()")

    def delete_dead(self, ids: Sequence[int]) -> int:
        missing("Queue.delete_dead()")

    def run_now(self, queue: str, job_id: int) -> int:
        missing("Queue.run_now()")

    def cancel_pending(self, queue: str, job_id: int) -> int:
        missing("cancelling pending jobs from the dashboard")

    def cancel_where(self, queue: str, where: str) -> int:
        missing("Queue.cancel_where()")

    def throughput(self, queue: str, minutes: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        missing("Queue.throughput()")

    def throughput_totals(self) -> list[tuple[str, int, int, int]]:
        missing("throughput totals (honker metrics)")

    def overview(self) -> dict[str, Any]:
        missing("the overview (dashboard, honker queues)")

    def set_paused(self, queue: str, paused: bool) -> int:
        missing("Queue.pause()/resume()")

    def is_paused(self, queue: str) -> bool:
        missing("Queue.paused")
