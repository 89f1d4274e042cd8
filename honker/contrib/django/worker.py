"""Running Django tasks from honker queues: one attempt, and the worker pool.

Semantics:
- each worker claims one job at a time through ``Queue.claim()`` (it sleeps
  until a commit, a due ``run_at`` or a reclaimable claim, as honker's own
  workers do) and runs the task in a thread, so sync and async task functions
  alike run off the event loop, each thread with its own Django connections;
- around each task, ``close_old_connections()`` runs as it does around a
  request: connections past ``CONN_MAX_AGE`` or broken are closed;
- an attempt writes RUNNING (its own transaction) and then, in one
  transaction, the outcome with the ack (SUCCESSFUL), the retry (READY) or the
  dead-letter (FAILED); ``task_started`` and ``task_finished`` are sent after
  those commits, in the worker process;
- stop (SIGTERM/SIGINT in the command): no new claims; tasks already running
  finish and are recorded; then :func:`serve` returns;
- while a task runs, its claim is extended (``heartbeat``) every third of
  ``VISIBILITY_TIMEOUT_S``, so a long task is not handed to a second worker;
- at-least-once: a worker that dies mid-task leaves the claim to expire after
  ``VISIBILITY_TIMEOUT_S``, and the job runs again (a second worker id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import close_old_connections
from django.utils import timezone

from . import results
from ._compat import (
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_finished,
    task_started,
)

if TYPE_CHECKING:
    import honker

    from .backend import TaskBackend

log = logging.getLogger("honker.contrib.django")


# -- one attempt (shared by the worker and EAGER mode) -----------------------------
def start_attempt(result: TaskResult, worker_id: str) -> None:
    """Mark ``result`` RUNNING for a new attempt by ``worker_id``."""
    now = timezone.now()
    object.__setattr__(result, "status", TaskResultStatus.RUNNING)
    if result.started_at is None:
        object.__setattr__(result, "started_at", now)
    object.__setattr__(result, "last_attempted_at", now)
    result.worker_ids.append(worker_id)


def call_task(result: TaskResult) -> BaseException | None:
    """Run the task; store its return value, or append the error and return it.

    ``KeyboardInterrupt`` and ``SystemExit`` propagate (as in Django's own backends).
    """
    task = result.task
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=result), *result.args, **result.kwargs)
        else:
            value = task.call(*result.args, **result.kwargs)
        value = normalize_json(value)
        json.dumps(value)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001  any task failure is the task's result
        kind = type(exc)
        result.errors.append(
            TaskError(
                exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
                traceback="".join(traceback.format_exception(exc)),
            )
        )
        return exc
    object.__setattr__(result, "_return_value", value)
    return None


def settle(result: TaskResult, exc: BaseException | None, final: bool) -> None:
    """SUCCESSFUL, FAILED (``final``) or READY again (a retry follows)."""
    if exc is None:
        status = TaskResultStatus.SUCCESSFUL
    elif final:
        status = TaskResultStatus.FAILED
    else:
        status = TaskResultStatus.READY
    object.__setattr__(result, "status", status)
    if status != TaskResultStatus.READY:
        object.__setattr__(result, "finished_at", timezone.now())


def run_eager(backend: TaskBackend, result: TaskResult) -> None:
    """EAGER mode: every attempt here and now, no retry delay."""
    attempts = max(1, backend.max_attempts)
    for n in range(1, attempts + 1):
        start_attempt(result, "eager")
        task_started.send(type(backend), task_result=result)
        exc = call_task(result)
        final = exc is None or n == attempts
        settle(result, exc, final)
        if final:
            task_finished.send(type(backend), task_result=result)
            return


# -- a claimed honker job ----------------------------------------------------------
def execute_job(backend: TaskBackend, job: honker.Job) -> None:
    """Run the Django task behind ``job`` and record the outcome (in this thread)."""
    close_old_connections()
    try:
        _execute(backend, job)
    finally:
        close_old_connections()


def _execute(backend: TaskBackend, job: honker.Job) -> None:
    try:
        call = job.payload[results.ENVELOPE]
        result_id = str(call["result_id"])
        max_attempts = int(call["max_attempts"])
        db = backend.database()
        rows = db.query("SELECT value FROM _honker_results WHERE job_id = ?", [int(result_id)])
        state = json.loads(rows[0]["value"]) if rows else _state_from(call, job)
        result = results.load(result_id, state)
    except Exception as bad:
        log.exception("honker: job %s is not a runnable Django task", job.id)
        job.fail(error=f"not a runnable Django task: {bad!r}")
        return
    queue = job.queue
    start_attempt(result, job.worker_id)
    queue.save_result(int(result_id), _dump(result, job, max_attempts), ttl=None)
    task_started.send(type(backend), task_result=result)

    exc = call_task(result)
    final = exc is None or job.attempts >= max_attempts
    settle(result, exc, final)
    ttl = backend.result_ttl_s if result.is_finished else None
    with db.transaction() as tx:
        queue.save_result(int(result_id), _dump(result, job, max_attempts), ttl=ttl, tx=tx)
        if exc is None:
            tx.query("SELECT honker_ack(?, ?) AS r", [job.id, job.worker_id])
        elif final:
            tx.query("SELECT honker_fail(?, ?, ?) AS r", [job.id, job.worker_id, repr(exc)])
        else:
            tx.query(
                "SELECT honker_retry(?, ?, ?, ?) AS r",
                [job.id, job.worker_id, backend.retry_delay_s, repr(exc)],
            )
    if final:
        task_finished.send(type(backend), task_result=result)


def _dump(result: TaskResult, job: honker.Job, max_attempts: int) -> Any:
    return results.state(result, job_id=job.id, max_attempts=max_attempts)


def _state_from(call: dict[str, Any], job: honker.Job) -> dict[str, Any]:
    """A READY state rebuilt from the envelope (the stored result was pruned)."""
    return {
        "task": call["task"],
        "backend": call["backend"],
        "status": "READY",
        "job_id": job.id,
    }


# -- the pool ------------------------------------------------------------------------
async def serve(
    backend: TaskBackend,
    queues: Iterable[str],
    concurrency: int,
    stop: asyncio.Event,
    ready: Any = None,
) -> None:
    """Run ``concurrency`` workers per queue until ``stop`` is set.

    ``ready()`` is called once every worker is subscribed to commits (a job
    committed after it is seen).
    """
    pid = os.getpid()
    loops = []
    for name in queues:
        q = backend.queue(name)
        for i in range(concurrency):
            worker_id = f"honker-django-{pid}-{name}-{i}"
            loops.append(_Worker(backend, q, worker_id, stop))
    if ready is not None:
        ready()
    await asyncio.gather(*(w.run() for w in loops))


class _Worker:
    def __init__(
        self, backend: TaskBackend, queue: honker.Queue, worker_id: str, stop: asyncio.Event
    ) -> None:
        self.backend = backend
        self.stop = stop
        self.worker_id = worker_id
        self.heartbeat_s = max(1.0, backend.visibility_timeout_s / 3)
        # Subscribed here, before the first claim, so no commit is missed.
        self.claims = queue.claim(worker_id)

    async def run(self) -> None:
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            while not self.stop.is_set():
                # A task, not ensure_future: asyncio.wait refuses the claim
                # iterator's awaitable, which is also a coroutine (_waiting.Next).
                claiming = asyncio.create_task(self.claims.__anext__())
                await asyncio.wait({claiming, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not claiming.done():
                    # Cancelling a claim that is waiting loses nothing: a claim
                    # is one transaction, done before the wait or not at all.
                    claiming.cancel()
                    await asyncio.gather(claiming, return_exceptions=True)
                    return
                job = claiming.result()
                # A task that started runs to its end and is recorded: a stop
                # only ends the wait for the next claim.
                running = asyncio.ensure_future(asyncio.to_thread(execute_job, self.backend, job))
                while not (await asyncio.wait({running}, timeout=self.heartbeat_s))[0]:
                    job.heartbeat()  # still running: keep the claim from expiring
                running.result()
        except Exception:  # the database went away: log why this worker ends
            log.exception("honker django worker %s stopped on an unexpected error", self.worker_id)
        finally:
            stopping.cancel()
            self.claims.close()
