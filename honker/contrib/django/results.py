"""Django ``TaskResult`` state as JSON in honker's results table.

Each enqueued Django task has one row in ``_honker_results`` keyed by its
result id, holding the whole ``TaskResult`` (status, arguments, timestamps,
errors, worker ids, return value) as JSON. The enqueue writes it (in the same
transaction as the job), the worker rewrites it when an attempt starts and,
together with the ack, retry or dead-letter, when it ends; ``get_result`` reads
it from any process.

Semantics:
- result ids are random integers in ``[2**62, 2**63)``: known before the job
  row exists (``on_commit`` enqueues), and far above any job id, so they never
  meet the results honker's own tasks store under their job ids;
- datetimes are stored as ISO 8601 text, ``finished_ts`` as unix seconds (what
  ``honker_prune_results`` compares).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from django.utils.module_loading import import_string

from ._compat import Task, TaskError, TaskResult, TaskResultStatus

RESULT_ID_MIN = 1 << 62
ENVELOPE = "__honker_django__"


def new_result_id() -> str:
    """A fresh result id (a decimal string, as ``TaskResult.id`` is a str)."""
    return str(RESULT_ID_MIN | secrets.randbits(62))


def parse_result_id(result_id: object) -> int | None:
    """The integer key of ``result_id``, or None if it cannot be one of ours."""
    try:
        key = int(str(result_id))
    except ValueError:
        return None
    return key if RESULT_ID_MIN <= key < (1 << 63) else None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def state(result: TaskResult, *, job_id: int | None, max_attempts: int) -> dict[str, Any]:
    """``result`` as the JSON object stored in ``_honker_results``."""
    task = result.task
    finished = result.finished_at
    return {
        "task": task.module_path,
        "backend": result.backend,
        "queue_name": task.queue_name,
        "priority": task.priority,
        "run_after": _iso(task.run_after),
        "status": str(result.status),
        "args": result.args,
        "kwargs": result.kwargs,
        "enqueued_at": _iso(result.enqueued_at),
        "started_at": _iso(result.started_at),
        "finished_at": _iso(finished),
        "finished_ts": None if finished is None else finished.timestamp(),
        "last_attempted_at": _iso(result.last_attempted_at),
        "errors": [
            {"exception_class_path": e.exception_class_path, "traceback": e.traceback}
            for e in result.errors
        ],
        "worker_ids": result.worker_ids,
        "return_value": result._return_value,
        "job_id": job_id,
        "max_attempts": max_attempts,
    }


def dump(result: TaskResult, *, job_id: int | None, max_attempts: int) -> str:
    """:func:`state` as JSON text."""
    return json.dumps(state(result, job_id=job_id, max_attempts=max_attempts))


def load_task(path: str, state: dict[str, Any]) -> Task:
    """The ``Task`` object at ``path``, with the enqueue's priority, queue and run_after."""
    task = import_string(path)
    if not isinstance(task, Task):
        raise TypeError(f"{path!r} is not a django.tasks Task (decorate it with @task)")
    return task.using(
        priority=state.get("priority"),
        queue_name=state.get("queue_name"),
        run_after=_dt(state.get("run_after")),
        backend=state.get("backend"),
    )


def load(result_id: str, state: dict[str, Any]) -> TaskResult:
    """A ``TaskResult`` from stored JSON state (already decoded)."""
    result = TaskResult(
        task=load_task(state["task"], state),
        id=result_id,
        status=TaskResultStatus(state["status"]),
        enqueued_at=_dt(state.get("enqueued_at")),
        started_at=_dt(state.get("started_at")),
        finished_at=_dt(state.get("finished_at")),
        last_attempted_at=_dt(state.get("last_attempted_at")),
        args=state.get("args") or [],
        kwargs=state.get("kwargs") or {},
        backend=state["backend"],
        errors=[TaskError(**e) for e in state.get("errors") or []],
        worker_ids=list(state.get("worker_ids") or []),
    )
    object.__setattr__(result, "_return_value", state.get("return_value"))
    return result
