"""Queues, claimed jobs, and job results (docs/spec/python-api.md §9–11).

Semantics shared by every method:
- each call without ``tx=`` is one write transaction of its own;
- job-id operations (ack, retry, fail, heartbeat, cancel, get_job, results)
  act on the id whatever queue the handle names, as in honker;
- time is SQLite's ``unixepoch()`` in whole seconds: a claim is valid while
  ``claim_expires_at >= now`` and reclaimable once ``< now``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from . import _manage, _results, _txjoin
from ._errors import ConfigError, HonkerError, ParameterError, QueueInTransactionError
from ._marshal import (
    NOT_DECODED,
    UNSET,
    StrictPayload,
    duration_arg,
    int_arg,
    json_payload,
    str_arg,
)
from ._waiting import Next, Wait, until
from .backends.base import JOB_COLUMNS

if TYPE_CHECKING:
    from ._database import Database
    from .backends.base import Changes

log = logging.getLogger("honker.queue")

# Whether the claim iterator's __anext__ returns a Next (a coroutine that is
# also a Future): only where asyncio.wait_for would wrap a coroutine in a Task
# (Python 3.11; honker/_waiting.py, docs/performance.md).
NEXT_AS_FUTURE = sys.version_info < (3, 12)

DEFAULT_VISIBILITY_TIMEOUT_S = 300
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_IDLE_POLL_S = 5.0


def open_queue(db: Database, name: str, vt: Any, max_attempts: Any) -> Queue:
    """``db.queue(...)``: the memoised handle, with honker's conflict rules."""
    if not isinstance(name, str):  # before the memo lookup: a list is unhashable
        raise ConfigError(f"queue name must be a str, got {type(name).__name__}")
    cached = db._queues.get(name)
    if cached is not None and vt is UNSET and max_attempts is UNSET:
        return cached
    vt_i = DEFAULT_VISIBILITY_TIMEOUT_S if vt is UNSET else int_arg("visibility_timeout_s", vt)
    ma_i = DEFAULT_MAX_ATTEMPTS if max_attempts is UNSET else int_arg("max_attempts", max_attempts)
    if cached is not None:
        if (cached.visibility_timeout_s, cached.max_attempts) != (vt_i, ma_i):
            raise ConfigError(
                f"queue {name!r} already opened with visibility_timeout_s="
                f"{cached.visibility_timeout_s}, max_attempts={cached.max_attempts}; got "
                f"visibility_timeout_s={vt_i}, max_attempts={ma_i}"
            )
        return cached
    if db._tx_depth:
        raise QueueInTransactionError(
            f"cannot construct Queue {name!r} while a db.transaction() is open: schema init "
            "needs its own write transaction and would deadlock the single writer. Construct "
            "the queue first, then pass tx= to enqueue."
        )
    q = Queue(db, name, vt_i, ma_i)
    db._queues[name] = q
    return q


class Queue:
    """A named job queue inside the database file.

    Example::

        q = db.queue("emails")
        q.enqueue({"to": "a@example.com"})
        job = q.claim_one("worker-1")
        if job:
            send(job.payload)
            job.ack()
    """

    def __init__(
        self,
        db: Database,
        name: str,
        visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if not isinstance(name, str):
            raise ConfigError(f"queue name must be a str, got {type(name).__name__}")
        self.db = db
        self.name = name
        self.visibility_timeout_s = int_arg("visibility_timeout_s", visibility_timeout_s)
        self.max_attempts = int_arg("max_attempts", max_attempts)
        db._write(lambda o: o.queue_init())

    # -- producing ------------------------------------------------------------
    def enqueue(
        self,
        payload: Any,
        tx: Any = None,
        run_at: float | None = None,
        delay: float | None = None,
        priority: int = 0,
        expires: float | None = None,
        max_attempts: int | None = None,
    ) -> int:
        """Add a job; returns its id.

        Semantics:
        - ``payload`` is stored as ``json.dumps(payload)``;
        - with ``tx`` the job commits (or rolls back) with the caller's
          transaction; workers wake when it commits;
        - ``delay`` (seconds from now) wins over ``run_at`` (unix seconds);
          both are truncated to whole seconds; neither means now;
        - ``expires``: seconds from now after which the job is never claimed;
        - ``priority``: higher first; ``max_attempts``: executions allowed
          (default: the queue's).
        """
        args = (
            self.name,
            json_payload(payload),
            None if run_at is None else int_arg("run_at", run_at),
            None if delay is None else duration_arg("delay", delay),
            int_arg("priority", priority),
            self.max_attempts if max_attempts is None else int_arg("max_attempts", max_attempts),
            None if expires is None else duration_arg("expires", expires),
        )
        # One statement: a backend may commit it in one round trip (single=True).
        return _txjoin.run(
            self.db, tx, lambda o: o.enqueue(*args), "honker_enqueue", args, single=True
        )

    # -- claiming -------------------------------------------------------------
    def claim_batch(self, worker_id: str, n: int) -> list[Job]:
        """Claim up to ``n`` due jobs for ``worker_id`` (one transaction).

        Semantics: exhausted claimable rows are dead-lettered first (``max
        attempts exceeded``); each claimed row gets ``attempts += 1`` and a
        claim valid for ``visibility_timeout_s``. Concurrent claimers never
        get the same row. ``n <= 0`` returns ``[]`` without touching the file.
        """
        n = int_arg("n", n)
        if n <= 0:
            return []
        str_arg("worker_id", worker_id)
        vt = duration_arg("visibility_timeout_s", self.visibility_timeout_s)
        name = self.name
        rows = self.db._write(lambda o: o.claim_batch(name, worker_id, n, vt))
        return [Job(self, row) for row in rows]

    def claim_one(self, worker_id: str) -> Job | None:
        """Claim the next due job, or None."""
        jobs = self.claim_batch(worker_id, 1)
        return jobs[0] if jobs else None

    def claim(
        self, worker_id: str, idle_poll_s: float | None = DEFAULT_IDLE_POLL_S
    ) -> _WorkerQueueIter:
        """Async iterator of claimed jobs that waits efficiently when idle.

        Semantics: subscribes to commits *before* the first claim; when the
        queue is empty it sleeps until the next commit, the next due
        ``run_at``, the next reclaimable claim deadline, or ``idle_poll_s``
        (None: no fallback). It never ends; the caller acks each job.

        Example::

            async for job in q.claim("worker-1"):
                handle(job.payload)
                job.ack()
        """
        return _WorkerQueueIter(self, str_arg("worker_id", worker_id), idle_poll_s)

    def _next_claim_at(self) -> int:
        name = self.name
        return self.db._write(lambda o: o.next_claim_at(name))

    # -- per-job operations ---------------------------------------------------
    def ack(self, job_id: int, worker_id: str, *, tx: Any = None) -> bool:
        """Delete the job if ``worker_id`` still holds a valid claim on it.

        Semantics: with ``tx`` the ack commits (or rolls back) with the
        caller's transaction, so a business row written in the same ``tx``
        exists exactly once per job: a claim that expired (and was reclaimed)
        before the ack makes it return False, and the caller writes nothing
        (on SQLite the same as ``SELECT honker_ack(?, ?)``; on PostgreSQL the
        row stays locked until commit, so a concurrent reclaim skips it).
        """
        job, name = int_arg("job_id", job_id), self.name
        args = (job, worker_id)
        # The handle's name is the job's queue in the common case (a hint:
        # the backend acks a job of another queue all the same).
        return bool(
            _txjoin.run(self.db, tx, lambda o: o.ack(job, worker_id, name), "honker_ack", args)
        )

    def ack_batch(self, job_ids: Any, worker_id: str) -> int:
        """Ack many jobs in one transaction; returns how many were ours."""
        try:
            ids = [int_arg("job_ids item", i) for i in job_ids]
        except TypeError as exc:
            if isinstance(exc, HonkerError):
                raise
            raise ParameterError(
                f"job_ids must be an iterable of ints, got {type(job_ids).__name__}"
            ) from None
        if not ids:
            return 0
        return self.db._write(lambda o: o.ack_batch(ids, worker_id))

    def retry(self, job_id: int, worker_id: str, delay_s: int, error: str) -> bool:
        """Return our claimed job to pending after ``delay_s``, or dead-letter it
        if it used its last attempt. False if we do not hold a valid claim."""
        job, delay = int_arg("job_id", job_id), duration_arg("delay_s", delay_s)
        text = str(error)
        return bool(self.db._write(lambda o: o.retry(job, worker_id, delay, text)))

    def fail(self, job_id: int, worker_id: str, error: str) -> bool:
        """Move our claimed job to the dead table with ``error``."""
        job, text = int_arg("job_id", job_id), str(error)
        return bool(self.db._write(lambda o: o.fail(job, worker_id, text)))

    def heartbeat(self, job_id: int, worker_id: str, extend_s: int | None = None) -> bool:
        """Reset our claim's deadline to now + ``extend_s`` (default: the
        visibility timeout). False once the claim has expired."""
        extend = duration_arg(
            "visibility_timeout_s" if extend_s is None else "extend_s",
            self.visibility_timeout_s if extend_s is None else extend_s,
        )
        job = int_arg("job_id", job_id)
        return bool(self.db._write(lambda o: o.heartbeat(job, worker_id, extend)))

    def cancel(self, job_id: int) -> bool:
        """Delete a pending or processing job, whoever holds it."""
        job = int_arg("job_id", job_id)
        return bool(self.db._write(lambda o: o.cancel(job)))

    def get_job(self, job_id: int) -> dict[str, Any] | None:
        """The live row as a dict (``payload`` is the raw JSON text), or None."""
        job = int_arg("job_id", job_id)
        row = self.db._write(lambda o: o.get_job(job))
        return None if row is None else dict(zip(JOB_COLUMNS, row, strict=True))

    def sweep_expired(self) -> int:
        """Move this queue's expired pending jobs to the dead table (``expired``)."""
        name = self.name
        return self.db._write(lambda o: o.sweep_expired(name))

    # -- results (honker/_results.py) ------------------------------------------
    def save_result(
        self, job_id: int, value: Any, ttl: float | None = None, tx: Any = None
    ) -> None:
        """Store ``json.dumps(value)`` as the result of ``job_id``.

        ``ttl`` seconds (truncated); None or <= 0 keeps it forever. A second
        save replaces the value and expiry.
        """
        _results.save(self.db, job_id, value, ttl, tx)

    def get_result(self, job_id: int) -> tuple[bool, Any]:
        """``(True, value)`` if a result is stored and unexpired, else ``(False, None)``."""
        return _results.get(self.db, job_id)

    async def wait_result(self, job_id: int, timeout: float | None = None) -> Any:
        """Wait until the job's result is stored; return it.

        Raises ``TimeoutError`` after ``timeout`` seconds (None: wait forever).
        """
        return await _results.wait(self.db, job_id, timeout)

    def sweep_results(self) -> int:
        """Delete every expired result in the database; returns the count."""
        return _results.sweep(self.db)

    # -- job management (honker/_manage.py) ------------------------------------
    def stats(self, *, tx: Any = None) -> dict[str, Any]:
        """Counts of ``pending`` (due now), ``delayed``, ``processing`` and ``dead``
        jobs, and ``oldest_due_age_s`` (how long the oldest due job has waited,
        in seconds; None when nothing is due).

        Example::

            q.stats()   # {'pending': 3, 'delayed': 1, 'processing': 2, 'dead': 0, ...}
        """
        return _manage.stats(self.db, self.name, tx)

    def jobs(
        self,
        *,
        state: str | None = None,
        limit: int = 100,
        after_id: int | None = None,
        where: dict[str, Any] | None = None,
        tx: Any = None,
    ) -> list[dict[str, Any]]:
        """A page of this queue's jobs, as plain dicts in id order.

        Semantics:
        - ``state``: ``"pending"`` (due now), ``"delayed"``, ``"processing"``,
          ``"dead"``, or None for all;
        - keyset paging: pass the last row's ``id`` as ``after_id`` for the
          next page; pages stay consistent while jobs come and go;
        - ``where``: ``{"$.user_id": 42}`` matches payloads by JSON path
          (SQLite's JSON comparison; several keys are ANDed);
        - keys: the job's columns, ``payload`` decoded, plus ``last_error``
          and ``died_at`` (dead jobs; None otherwise).

        Example::

            page = q.jobs(state="dead", limit=50)
            more = q.jobs(state="dead", limit=50, after_id=page[-1]["id"])
        """
        return _manage.jobs(self.db, self.name, state, limit, after_id, where, tx)

    def requeue_dead(
        self,
        job_ids: Any = None,
        *,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        tx: Any = None,
    ) -> int:
        """Move dead jobs back to pending, due now, with attempts 0; returns how many.

        Semantics: ``job_ids`` (an iterable of ids), ``where`` and ``limit``
        narrow the selection; none of them means every dead job of the queue.
        Id, payload, priority, max_attempts and created_at are kept;
        ``last_error`` is dropped (the live table has no column for it).
        """
        return _manage.requeue_dead(self.db, self.name, job_ids, where, limit, tx)

    def delete_dead(
        self,
        job_ids: Any = None,
        *,
        where: dict[str, Any] | None = None,
        older_than_s: float | None = None,
        tx: Any = None,
    ) -> int:
        """Delete dead jobs for good; returns how many. No arguments: all of the queue's."""
        return _manage.delete_dead(self.db, self.name, job_ids, where, older_than_s, tx)

    def run_now(self, job_id: int, *, tx: Any = None) -> bool:
        """Make a delayed job due now; False if ``job_id`` is not a delayed job here."""
        return _manage.run_now(self.db, self.name, job_id, tx)

    def throughput(self, minutes: int = 60) -> list[dict[str, int]]:
        """Completed, failed and retried jobs per minute, for the last ``minutes``.

        Semantics: one dict per minute, oldest first, zeros filled: ``minute``
        (unix seconds of the database clock), ``completed`` (acked),
        ``failed`` (reached the dead letters, however: fail, a retry on the
        last attempt, attempts or expiry used up), ``retried``. Counted by
        this package in every process that opened the file with
        ``history=True`` (the default), written at most once a second per
        process, kept 48 h. Jobs handled by honker's native engine are not
        counted.
        """
        return _manage.throughput(self.db, self.name, minutes)

    def pause(self, *, tx: Any = None) -> bool:
        """Stop every claim from this queue, in every process, until :meth:`resume`.

        Semantics: jobs already claimed finish normally (ack, retry, fail and
        heartbeat work); enqueue still works; the pause is stored in the
        database (honker-py's side table ``_honkerpy_paused``), so it
        survives restarts. honker's native engine does not know the flag and
        keeps claiming. Returns True if the queue was running.
        """
        return _manage.set_paused(self.db, self.name, True, tx)

    def resume(self, *, tx: Any = None) -> bool:
        """Claim from this queue again (waiting workers wake); True if it was paused."""
        return _manage.set_paused(self.db, self.name, False, tx)

    @property
    def paused(self) -> bool:
        """Whether the queue is paused (read from the database, any process's pause)."""
        return _manage.is_paused(self.db, self.name)

    def cancel_where(self, where: dict[str, Any], *, tx: Any = None) -> int:
        """Cancel (delete) the pending jobs, due or delayed, whose payload matches
        ``where``; claimed jobs are left to finish. Returns how many.

        Example::

            q.cancel_where({"$.order_id": 1234})   # the order was deleted
        """
        return _manage.cancel_where(self.db, self.name, where, tx)

    # -- tasks (honker._tasks) ------------------------------------------------
    def task(self, name: str | None = None, **kwargs: Any) -> Any:
        from ._tasks import task_decorator

        return task_decorator(self, name, **kwargs)

    def periodic_task(self, schedule: Any, **kwargs: Any) -> Any:
        from ._tasks import periodic_task_decorator

        return periodic_task_decorator(self, schedule, **kwargs)


class Job(StrictPayload):
    """A claimed job.

    Only ``id``, ``queue_name``, ``payload``, ``worker_id``, ``attempts`` and
    ``claim_expires_at`` come from the row; like honker, the other fields hold
    defaults (``max_attempts`` is the queue handle's).
    """

    __slots__ = (
        "queue",
        "id",
        "queue_name",
        "worker_id",
        "attempts",
        "claim_expires_at",
        "state",
        "priority",
        "run_at",
        "max_attempts",
        "last_error",
        "created_at",
        "_raw",
        "_payload",
    )

    def __init__(self, queue: Queue, row: Any) -> None:
        if isinstance(row, dict):
            row = (
                row["id"],
                row.get("queue", queue.name),
                row.get("payload"),
                row.get("worker_id"),
                row.get("attempts", 0),
                row.get("claim_expires_at"),
            )
        self._defaults(queue)
        self._fill(queue, row)

    def _defaults(self, queue: Queue) -> None:
        """The fields a claim does not set (honker's fake fields)."""
        self.queue = queue
        self.state = "processing"
        self.priority = 0
        self.run_at = 0
        self.last_error: str | None = None
        self.created_at = 0
        self._payload: Any = NOT_DECODED

    def _fill(self, queue: Queue, row: Any) -> None:
        """The fields a claimed row sets."""
        (
            self.id,
            self.queue_name,
            self._raw,
            self.worker_id,
            self.attempts,
            self.claim_expires_at,
        ) = row
        self.max_attempts = queue.max_attempts

    @classmethod
    def _blank(cls, queue: Queue) -> Job:
        """A Job with its defaults only, for :meth:`_fill` later: the claim
        iterator makes the next one before it waits, so that a job found
        after a wake-up costs a few stores instead of a new object."""
        job = cls.__new__(cls)
        job._defaults(queue)
        return job

    def ack(self, *, tx: Any = None) -> bool:
        """Finish the job (deletes it) if our claim is still valid; with ``tx``
        inside the caller's transaction (:meth:`Queue.ack`)."""
        return self.queue.ack(self.id, self.worker_id, tx=tx)

    def retry(self, delay_s: int = 60, error: str = "") -> bool:
        """Run it again after ``delay_s`` (dead-letters it on its last attempt)."""
        return self.queue.retry(self.id, self.worker_id, delay_s, error)

    def fail(self, error: str = "") -> bool:
        """Move it to the dead table now."""
        return self.queue.fail(self.id, self.worker_id, error)

    def heartbeat(self, extend_s: int | None = None) -> bool:
        """Extend our claim (default: by the queue's visibility timeout)."""
        return self.queue.heartbeat(self.id, self.worker_id, extend_s)

    def __repr__(self) -> str:
        return f"Job(id={self.id}, queue={self.queue_name!r}, attempts={self.attempts})"


class _WorkerQueueIter:
    """The iterator behind :meth:`Queue.claim`."""

    def __init__(self, queue: Queue, worker_id: str, idle_poll_s: float | None) -> None:
        self.queue = queue
        self.worker_id = worker_id
        self.idle_poll_s = idle_poll_s
        # The queue's visibility timeout as last checked, and the value it was
        # checked from: a step re-checks only when the attribute was changed.
        self._vt_from: Any = self
        self._vt = 0
        self._next_job: Job | None = None  # see Job._blank
        # Subscribe before the first claim, so a commit in between is not lost.
        self._updates: Changes = queue.db.update_events()

    def __aiter__(self) -> _WorkerQueueIter:
        return self

    def __anext__(self) -> Next[Job] | Coroutine[Any, Any, Job]:
        """The next claimed job: an awaitable that is both a coroutine and an
        asyncio Future (honker/_waiting.py ``Next``), so that
        ``asyncio.wait_for(it.__anext__(), t)`` costs what ``async for`` does.

        Semantics: a wait that is cancelled or times out never strands a job:
        either the job is returned, or nothing was claimed, or (a job claimed
        in the background for a consumer cancelled before it resumed) the
        claim is released at once (:meth:`_release`). Called outside a running
        event loop (``loop.run_until_complete(it.__anext__())``) it returns a
        plain coroutine: a Future would belong to whatever loop is current.
        On Python 3.12+ it always does: ``wait_for`` is built on
        ``asyncio.timeout`` there and wraps no Task, so a plain coroutine
        costs the same and ``asyncio.wait`` accepts its Task as with honker.
        """
        if NEXT_AS_FUTURE is False or asyncio._get_running_loop() is None:
            return until(self._updates, self._step)
        return Next(self._updates, self._step, self._release)

    def _step(self) -> Job | Wait:
        """One transaction: claim, or learn when the next job becomes due."""
        q, worker_id = self.queue, self.worker_id
        vt = q.visibility_timeout_s
        if vt is not self._vt_from:
            self._vt = duration_arg("visibility_timeout_s", vt)
            self._vt_from = vt
        name, vt = q.name, self._vt
        rows, due_in = q.db._write(lambda o: o.claim_or_next(name, worker_id, vt))
        if rows:
            job = self._next_job
            if job is None:
                return Job(q, rows[0])
            self._next_job = None
            job._fill(q, rows[0])
            return job
        if self._next_job is None:
            self._next_job = Job._blank(q)  # ready for the wake-up (Job._blank)
        timeout = self.idle_poll_s
        if due_in is not None:  # seconds by the database's clock, not this process's
            due_in = max(0.0, due_in)
            timeout = due_in if timeout is None else min(timeout, due_in)
        return Wait(timeout)

    def _release(self, job: Job) -> None:
        """Undo the claim of a job its consumer never received: the row is
        pending again with its attempt given back, and other workers wake
        (tests/conformance/test_claim_cancellation.py)."""
        job_id, worker_id, attempts = job.id, job.worker_id, job.attempts
        try:
            self.queue.db._write(lambda o: o.release_claim(job_id, worker_id, attempts))
        except HonkerError as exc:  # e.g. closed meanwhile: the claim then expires
            log.warning(
                "claim of job %s not released (%s); it is claimable again after its "
                "visibility timeout",
                job_id,
                exc,
            )

    def close(self) -> None:
        """Unsubscribe from the watcher (also happens on garbage collection)."""
        self._updates.close()
