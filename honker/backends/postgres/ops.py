"""The PostgreSQL backend's :class:`honker.backends.base.Ops`: each operation is
one or a few named statements of ``sql/queries.sql`` inside the open transaction.

An operation only needs "run this statement, give me its rows"
(:data:`Fetch`): the backend's own transactions pass a psycopg cursor's, and a
foreign ``tx=`` object passes its ``query(sql, params)`` (``backend.py``,
``run_foreign``), so each operation is written once for both.

Operations of later slices of the PostgreSQL work (job management, pub/sub,
streams, locks, rate limits, the scheduler) raise
:class:`honker.NotOnThisBackendError` (a ``NotImplementedError``) naming the
feature; docs/postgres.md lists what works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from ..._errors import NotOnThisBackendError
from ..base import ClaimRow, EventRow, Fire
from .sql import queries

# Run one statement with named parameters; its rows (none for a statement
# without a result).
Fetch = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]


def _missing(feature: str) -> NoReturn:
    raise NotOnThisBackendError(
        f"{feature} is not available on PostgreSQL yet (docs/postgres.md lists what is); "
        "use a SQLite database for it meanwhile"
    )


class PostgresOps:
    """Operations over one open transaction (see ``honker/backends/base.py``)."""

    __slots__ = ("_fetch", "_q")

    def __init__(self, fetch: Fetch, schema: str) -> None:
        self._fetch = fetch
        self._q = queries(schema)

    def _rows(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        return self._fetch(self._q[name], params)

    def _count(self, name: str, **params: Any) -> int:
        return len(self._rows(name, **params))

    # -- queues ---------------------------------------------------------------
    def queue_init(self) -> None:
        """Nothing to do: ``open()`` migrated the schema (``migrate.py``)."""

    def enqueue(
        self,
        queue: str,
        payload: str,
        run_at: int | None,
        delay: int | None,
        priority: int,
        max_attempts: int,
        expires: int | None,
    ) -> int:
        (row,) = self._rows(
            "enqueue",
            queue=queue,
            payload=payload,
            run_at=run_at,
            delay=delay,
            priority=priority,
            max_attempts=max_attempts,
            expires=expires,
        )
        return int(row[0])

    def claim_batch(self, queue: str, worker_id: str, n: int, timeout_s: int) -> list[ClaimRow]:
        """Claim up to ``n`` rows in claim order (``claim`` in queries.sql).

        Semantics: exhausted rows met while picking are dead-lettered ("max
        attempts exceeded") and the pick goes on past them, so they neither
        count towards ``n`` nor stay in front of the queue; rows locked by a
        concurrent claimer are skipped, never waited for. ``n <= 0`` claims
        nothing.
        """
        claimed: list[ClaimRow] = []
        while len(claimed) < n:
            rows = self._rows(
                "claim", queue=queue, worker_id=worker_id, timeout_s=timeout_s, n=n - len(claimed)
            )
            claimed += [row[:6] for row in rows if row[0] is not None]
            if not rows[0][6]:  # nothing buried: nothing more to find behind them
                break
        return claimed

    def claim_or_next(
        self, queue: str, worker_id: str, timeout_s: int
    ) -> tuple[list[ClaimRow], float | None]:
        """One claim, or (nothing, seconds until the next job becomes claimable,
        by the server's clock: None = no such job)."""
        rows = self.claim_batch(queue, worker_id, 1, timeout_s)
        if rows:
            return rows, None
        due_in = self._rows("next_claim_in", queue=queue)[0][0]
        return rows, None if due_in is None else float(due_in)

    def next_claim_at(self, queue: str) -> int:
        return int(self._rows("next_claim_at", queue=queue)[0][0])

    def ack(self, job_id: int, worker_id: str) -> int:
        return self._count("ack", id=job_id, worker_id=worker_id)

    def ack_batch(self, job_ids: Sequence[int], worker_id: str) -> int:
        return self._count("ack_batch", ids=list(job_ids), worker_id=worker_id)

    def retry(self, job_id: int, worker_id: str, delay_s: int, error: str) -> int:
        return self._count("retry", id=job_id, worker_id=worker_id, delay_s=delay_s, error=error)

    def fail(self, job_id: int, worker_id: str, error: str) -> int:
        return self._count("fail", id=job_id, worker_id=worker_id, error=error)

    def heartbeat(self, job_id: int, worker_id: str, extend_s: int) -> int:
        return self._count("heartbeat", id=job_id, worker_id=worker_id, extend_s=extend_s)

    def cancel(self, job_id: int) -> int:
        return self._count("cancel", id=job_id)

    def get_job(self, job_id: int) -> tuple[Any, ...] | None:
        rows = self._rows("get_job", id=job_id)
        return rows[0] if rows else None

    def sweep_expired(self, queue: str) -> int:
        return self._count("sweep_expired", queue=queue)

    def now(self) -> int:
        return int(self._rows("now")[0][0])

    # -- results --------------------------------------------------------------
    def save_result(self, job_id: int, value: str, ttl_s: int) -> Any:
        self._rows("result_save", job_id=job_id, value=value, ttl_s=ttl_s)
        return 1

    def get_result(self, job_id: int) -> str | None:
        rows = self._rows("result_get", job_id=job_id)
        return None if not rows else rows[0][0]

    def sweep_results(self) -> int:
        return self._count("result_sweep")

    # -- job management (a later slice) ---------------------------------------
    def queue_stats(self, queue: str) -> dict[str, Any]:
        _missing("Queue.stats()")

    def list_jobs(
        self, queue: str, state: str | None, limit: int, after_id: int, where: str | None
    ) -> list[tuple[Any, ...]]:
        _missing("Queue.jobs()")

    def dead_ids(
        self,
        queue: str,
        ids: Sequence[int] | None,
        where: str | None,
        older_than_s: int | None,
        limit: int,
    ) -> list[int]:
        _missing("dead-letter management (requeue_dead, delete_dead)")

    def requeue_dead(self, ids: Sequence[int]) -> int:
        _missing("Queue.requeue_dead()")

    def delete_dead(self, ids: Sequence[int]) -> int:
        _missing("Queue.delete_dead()")

    def run_now(self, queue: str, job_id: int) -> int:
        _missing("Queue.run_now()")

    def cancel_pending(self, queue: str, job_id: int) -> int:
        _missing("cancelling pending jobs from the dashboard")

    def cancel_where(self, queue: str, where: str) -> int:
        _missing("Queue.cancel_where()")

    def throughput(self, queue: str, minutes: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        _missing("Queue.throughput()")

    def throughput_totals(self) -> list[tuple[str, int, int, int]]:
        _missing("throughput totals (honker metrics)")

    def overview(self) -> dict[str, Any]:
        _missing("the overview (dashboard, honker queues)")

    def set_paused(self, queue: str, paused: bool) -> int:
        _missing("Queue.pause()/resume()")

    def is_paused(self, queue: str) -> bool:
        _missing("Queue.paused")

    # -- notifications and streams (a later slice) ----------------------------
    def notify(self, channel: str, payload: str) -> int:
        _missing("tx.notify()")

    def notify_max_id(self, channel: str) -> int:
        _missing("db.listen()")

    def notify_since(self, channel: str, after_id: int) -> list[tuple[int, str, str, int]]:
        _missing("db.listen()")

    def prune_notifications(self, older_than_s: int | None, max_keep: int | None) -> int:
        _missing("db.prune_notifications()")

    def publish(self, topic: str, key: str | None, payload: str) -> int:
        _missing("Stream.publish()")

    def read_since(self, topic: str, offset: int, limit: int) -> list[EventRow]:
        _missing("Stream.subscribe()")

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        _missing("Stream.save_offset()")

    def get_offset(self, consumer: str, topic: str) -> int:
        _missing("Stream.get_offset()")

    # -- locks, rate limits, scheduler (a later slice) ------------------------
    def lock_acquire(self, name: str, owner: str, ttl_s: int) -> int:
        _missing("db.lock()")

    def lock_release(self, name: str, owner: str) -> int:
        _missing("db.lock()")

    def lock_renew(self, name: str, owner: str, ttl_s: int) -> int:
        _missing("db.lock()")

    def lock_expires_at(self, name: str) -> int | None:
        _missing("db.lock()")

    def rate_limit_try(self, name: str, limit: int, per_s: int) -> int:
        _missing("db.try_rate_limit()")

    def rate_limit_sweep(self, older_than_s: int) -> int:
        _missing("db.sweep_rate_limits()")

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
        _missing("the Scheduler")

    def schedule_unregister(self, name: str) -> int:
        _missing("the Scheduler")

    def schedule_pause(self, name: str) -> int:
        _missing("the Scheduler")

    def schedule_resume(self, name: str) -> int:
        _missing("the Scheduler")

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
        _missing("the Scheduler")

    def schedule_list(self) -> list[tuple[Any, ...]]:
        _missing("the Scheduler")

    def schedule_count(self) -> int:
        _missing("the Scheduler")

    def schedule_tick(self, now_unix: int) -> list[Fire]:
        _missing("the Scheduler")

    def lead_step(
        self, lock_name: str, owner: str, ttl_s: int, now_unix: int
    ) -> tuple[bool, list[Fire], int]:
        _missing("the Scheduler")
