"""The PostgreSQL queue and result operations (statements of ``sql/queues.sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...base import ClaimRow
from ..history import COMPLETED, FAILED, RETRIED
from ..sql import with_limit
from ._base import OpsBase


def insert_job(
    ops: OpsBase,
    queue: str,
    payload: str,
    run_at: int | None,
    delay: int | None,
    priority: int,
    max_attempts: int,
    expires: int | None,
) -> int:
    """``enqueue`` in queues.sql on ``ops``'s transaction: the new job's id
    (``QueueOps.enqueue``; the scheduler's tick in coord.py)."""
    (row,) = ops._rows(
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


class QueueOps(OpsBase):
    __slots__ = ()

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
        return insert_job(self, queue, payload, run_at, delay, priority, max_attempts, expires)

    def claim_batch(self, queue: str, worker_id: str, n: int, timeout_s: int) -> list[ClaimRow]:
        """Claim up to ``n`` rows in claim order (``claim`` in queues.sql).

        Semantics: exhausted rows met while picking are dead-lettered ("max
        attempts exceeded") and the pick goes on past them, so they neither
        count towards ``n`` nor stay in front of the queue; rows locked by a
        concurrent claimer are skipped, never waited for. ``n <= 0`` claims
        nothing.
        """
        claimed: list[ClaimRow] = []
        while len(claimed) < n:
            sql = with_limit(self._q["claim"], n - len(claimed))
            args = {"queue": queue, "worker_id": worker_id, "timeout_s": timeout_s}
            rows = self._fetch(sql, args)
            claimed += [row[:6] for row in rows if row[0] is not None]
            buried = int(rows[0][6])
            if not buried:  # nothing buried: nothing more to find behind them
                break
            self._tally(queue, FAILED, buried)
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

    def release_claim(self, job_id: int, worker_id: str, attempts: int) -> int:
        args = {"id": job_id, "worker_id": worker_id, "attempts": attempts}
        return self._count("release_claim", **args)

    # Finished jobs are counted for the throughput history (``history.py``):
    # every job that reaches the dead letters counts as failed.
    def ack(self, job_id: int, worker_id: str, queue: str | None = None) -> int:
        """``queue`` (a hint) is not needed: the DELETE says what it removed."""
        return self._finished("ack", COMPLETED, id=job_id, worker_id=worker_id)

    def ack_batch(self, job_ids: Sequence[int], worker_id: str) -> int:
        return self._finished("ack_batch", COMPLETED, ids=list(job_ids), worker_id=worker_id)

    def retry(self, job_id: int, worker_id: str, delay_s: int, error: str) -> int:
        rows = self._rows("retry", id=job_id, worker_id=worker_id, delay_s=delay_s, error=error)
        for queue, dead in rows:
            self._tally(queue, FAILED if dead else RETRIED)
        return len(rows)

    def fail(self, job_id: int, worker_id: str, error: str) -> int:
        return self._finished("fail", FAILED, id=job_id, worker_id=worker_id, error=error)

    def _finished(self, name: str, kind: int, **params: Any) -> int:
        """Run ``name`` (its rows end with the queue of each job it finished)."""
        rows = self._rows(name, **params)
        for row in rows:
            self._tally(row[-1], kind)
        return len(rows)

    def heartbeat(self, job_id: int, worker_id: str, extend_s: int) -> int:
        return self._count("heartbeat", id=job_id, worker_id=worker_id, extend_s=extend_s)

    def cancel(self, job_id: int) -> int:
        return self._count("cancel", id=job_id)

    def get_job(self, job_id: int) -> tuple[Any, ...] | None:
        rows = self._rows("get_job", id=job_id)
        return rows[0] if rows else None

    def sweep_expired(self, queue: str) -> int:
        n = self._count("sweep_expired", queue=queue)
        self._tally(queue, FAILED, n)
        return n

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
