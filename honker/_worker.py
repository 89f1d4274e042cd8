"""The worker pool that runs decorated tasks, and ``run_task`` (docs/spec/python-api.md §16.6-16.7).

``run_workers`` starts ``concurrency`` asyncio worker tasks per queue; each
claims one job at a time through ``Queue.claim()`` (so it sleeps until a
commit, a due ``run_at`` or a reclaimable deadline) and runs it with
:func:`run_task`, which acks, retries or dead-letters the job.

Semantics:
- at-least-once: a job whose worker dies mid-run is reclaimed after the
  queue's visibility timeout and runs again;
- shutdown (``stop_event`` set, or the pool cancelled) hands every claim this
  process holds back at once: a job claimed after the stop, or whose handler
  was cancelled mid-run, is retried with ``delay_s=0`` and error
  ``"worker shutting down"`` (the attempt stays used, so a job on its last
  attempt is dead-lettered). A sync handler's thread cannot be interrupted and
  finishes in the background; its result is discarded;
- the library never prints; failures are logged on ``honker.worker``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._errors import NoTasksRegisteredError
from ._marshal import DURATION_MAX
from ._tasks import _ENVELOPE, Retryable, TaskRegistry, TaskSpec, registry

if TYPE_CHECKING:
    from ._database import Database
    from ._queue import Job, Queue

log = logging.getLogger("honker.worker")

SHUTDOWN_ERROR = "worker shutting down"
RAW_PAYLOAD_ERROR = "raw (non-decorated) payload on a decorated-task queue"
NO_TASKS = (
    "run_workers() called with no tasks registered. Import the module that defines "
    "your @q.task() functions before calling run_workers()."
)


def _compute_delay(retry_delay: float, backoff: float, attempts: int) -> int:
    """Retry delay in whole seconds: ``retry_delay * backoff ** (attempts - 1)``.

    ``attempts`` is the job's claim count (1 on the first run), so the first
    retry waits ``retry_delay``. The delay is capped at ``DURATION_MAX``, so a
    long run of retries never asks for a time beyond 64 bits.
    """
    try:
        delay = retry_delay * backoff ** max(0, int(attempts) - 1)
    except OverflowError:  # a float power beyond the double range
        return DURATION_MAX
    return int(max(-DURATION_MAX, min(delay, DURATION_MAX)))


def _retry_or_fail(job: Job, error: str, delay_s: int, retries: int | None) -> None:
    """Retry ``job`` after ``delay_s``, or dead-letter it once its budget is spent.

    ``retry()`` itself also dead-letters when the row's ``max_attempts`` is
    reached; ``retries`` is the worker-side budget on top of that.
    """
    if retries is not None and job.attempts >= retries:
        job.fail(error=error)
    else:
        job.retry(delay_s=delay_s, error=error)


async def run_task(
    job: Job,
    handler: Callable[[Any], Any],
    *,
    timeout: float | None = None,
    retries: int | None = None,
    retry_delay: float = 60.0,
    backoff: float = 1.0,
    save_result: bool = False,
    result_ttl: float = 3600.0,
) -> None:
    """Run ``handler(job.payload)`` and ack, retry or dead-letter ``job``.

    Semantics:
    - a coroutine function is awaited (under ``asyncio.wait_for`` when
      ``timeout`` is given); any other callable is called directly on the
      loop thread, blocking it, with no timeout enforcement and its return
      value not awaited;
    - success: the result is saved first when ``save_result`` (a failure to
      save is logged on ``honker.worker`` and swallowed), then the job is
      acked (the ack's outcome is not checked);
    - ``TimeoutError`` (the timeout, or one the handler raised) → error
      ``"timeout after {timeout}s"`` (``"handler timeout"`` without one);
      :class:`honker.Retryable` → its ``delay_s`` and message; any other
      exception → ``"{exc}\\n{traceback}"``; the delay otherwise is
      ``int(retry_delay * backoff ** (attempts - 1))``;
    - then ``fail`` when ``retries`` is set and ``job.attempts >= retries``,
      else ``retry``;
    - cancellation propagates and leaves the job as it is.

    Example::

        async for job in q.claim("w1"):
            await run_task(job, handle, timeout=30, retries=5, backoff=2.0)
    """
    try:
        if inspect.iscoroutinefunction(handler):
            pending = handler(job.payload)
            result = await (pending if timeout is None else asyncio.wait_for(pending, timeout))
        else:
            result = handler(job.payload)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        error = f"timeout after {timeout}s" if timeout is not None else "handler timeout"
        delay = _compute_delay(retry_delay, backoff, job.attempts)
    except Retryable as exc:
        error = str(exc)
        delay = exc.delay_s
    except Exception as exc:  # noqa: BLE001  any handler failure becomes a retry
        error = f"{exc}\n{traceback.format_exc()}"
        delay = _compute_delay(retry_delay, backoff, job.attempts)
    else:
        if save_result:
            try:
                job.queue.save_result(job.id, result, ttl=result_ttl)
            except Exception:  # honker: a result that can't be saved doesn't fail the job
                log.exception(
                    "honker: could not save the result of job %s; acking it anyway", job.id
                )
        job.ack()
        return
    _retry_or_fail(job, error, delay, retries)


def _task_handler(spec: TaskSpec) -> Callable[[Any], Awaitable[Any]]:
    """The ``run_task`` handler for an envelope: unpack args, run ``spec.fn``.

    Sync functions go to a thread so they neither block the loop nor escape
    the timeout (the thread itself keeps running after a timeout).
    """
    fn = spec.fn
    is_async = inspect.iscoroutinefunction(fn)

    async def handle(payload: Any) -> Any:
        call = payload[_ENVELOPE]
        args = call.get("args") or []
        kwargs = call.get("kwargs") or {}
        if is_async:
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    return handle


def _envelope_task_name(job: Job) -> tuple[bool, Any]:
    """``(True, name)`` for a decorated-task payload, ``(False, None)`` otherwise."""
    try:
        payload = job.payload
    except ValueError:  # not JSON at all: written by hand, certainly not ours
        return False, None
    if not isinstance(payload, dict) or _ENVELOPE not in payload:
        return False, None
    call = payload[_ENVELOPE]
    return True, (call.get("task") if isinstance(call, dict) else None)


async def _run_one(job: Job, reg: TaskRegistry) -> None:
    is_task, name = _envelope_task_name(job)
    if not is_task:
        job.fail(error=RAW_PAYLOAD_ERROR)
        return
    spec = reg.get(name) if isinstance(name, str) else None
    if spec is None:
        job.fail(error=f"unknown task: {name!r}. Registered tasks: {reg.names()}")
        return
    await run_task(
        job,
        _task_handler(spec),
        timeout=spec.timeout_s,
        retries=spec.retries,
        retry_delay=float(spec.retry_delay_s),
        backoff=1.0,
        save_result=spec.store_result,
        result_ttl=spec.result_ttl_s,
    )


async def _drain_loop(
    q: Queue, worker_id: str, reg: TaskRegistry, stop_event: asyncio.Event
) -> None:
    """One worker: claim, dispatch, repeat, until cancelled or the stop event.

    Semantics: a job claimed once ``stop_event`` is set is handed back
    (``retry(delay_s=0, error="worker shutting down")``) and the loop ends; a
    job whose run is cancelled is handed back the same way before the
    cancellation propagates. An unexpected error (e.g. the database was
    closed) is logged and ends this worker only.
    """
    claims = q.claim(worker_id)
    try:
        async for job in claims:
            if stop_event.is_set():
                job.retry(delay_s=0, error=SHUTDOWN_ERROR)
                return
            try:
                await _run_one(job, reg)
            except asyncio.CancelledError:
                # The pool is shutting down mid-run: give the claim back now
                # rather than leave it stuck for the visibility timeout.
                job.retry(delay_s=0, error=SHUTDOWN_ERROR)
                raise
    except asyncio.CancelledError:
        raise
    except Exception:  # honker ends the worker here; we also say why
        log.exception("honker worker %s stopped on an unexpected error", worker_id)
    finally:
        claims.close()


async def run_workers(
    db: Database,
    queue: str | None = None,
    concurrency: int | None = None,
    registry_: TaskRegistry | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Run decorated tasks until ``stop_event`` is set (or this coroutine is cancelled).

    Semantics:
    - serves ``queue`` if given (even if no task names it), else every queue
      the registry's tasks use; ``concurrency`` workers per queue (default
      ``os.cpu_count()``), worker ids ``honker-worker-<pid>-<queue>-<i>``;
    - async tasks run on this loop, sync tasks in threads
      (``asyncio.to_thread``);
    - on stop (or cancellation) every worker is cancelled and awaited; claims
      in flight are handed back for an immediate retry (see the module
      docstring); then it returns (or re-raises the cancellation).

    Raises ``RuntimeError`` when no queue is given and no task is registered.

    Example::

        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await honker.run_workers(db, concurrency=4, stop_event=stop)
    """
    reg = registry() if registry_ is None else registry_
    n = (os.cpu_count() or 1) if concurrency is None else int(concurrency)
    stop = asyncio.Event() if stop_event is None else stop_event
    names = [queue] if queue is not None else sorted(reg.queues())
    if not names:
        raise NoTasksRegisteredError(NO_TASKS)
    pid = os.getpid()
    workers: list[asyncio.Task[None]] = []
    try:
        for qname in names:
            q = db.queue(qname)
            for i in range(n):
                worker_id = f"honker-worker-{pid}-{qname}-{i}"
                workers.append(
                    asyncio.create_task(_drain_loop(q, worker_id, reg, stop), name=worker_id)
                )
        await stop.wait()
    finally:
        for task in workers:
            task.cancel()
        # return_exceptions: a worker's own failure (already logged) must not
        # hide the others' clean shutdown.
        await asyncio.gather(*workers, return_exceptions=True)
