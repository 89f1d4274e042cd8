"""Huey-style tasks: the ``@q.task()`` decorators, the registry, results (docs/spec/python-api.md
§16).

A decorated function is not run when called: the call enqueues an *envelope*
``{"__honker_task__": {"task": <name>, "args": [...], "kwargs": {...}}}`` on
the decorator's queue, and a worker (``honker.run_workers`` or
``python -m honker worker``) that imported the same module looks the name up
in the process-wide registry and runs it (see :mod:`honker._worker`).

Semantics shared by everything here:
- the registry is the one process-global mutable object honker's API needs:
  every Database and queue in the process shares it;
- a task's name defaults to ``f"{fn.__module__}.{fn.__qualname__}"``, so the
  producer and the worker must import the function under the same module name
  (a script run as ``__main__`` names its tasks ``"__main__.fn"``);
- a decorated task pins the job row's ``max_attempts`` to its ``retries``,
  so the worker's budget and the claim-time budget agree.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import (
    DuplicateTaskError,
    ResultInLoopError,
    TargetAttributeError,
    TargetError,
    TaskUsageError,
)

if TYPE_CHECKING:
    from ._database import Database
    from ._queue import Queue

_ENVELOPE = "__honker_task__"
_DEFAULT_RESULT_TTL_S = 3600
DEFAULT_RETRY_DELAY_S = 60


@dataclass
class TaskSpec:
    """How one registered task runs: its function, queue and retry policy."""

    name: str
    fn: Callable[..., Any]
    queue_name: str
    retries: int = 3
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S
    timeout_s: float | None = None
    priority: int = 0
    expires_s: float | None = None
    store_result: bool = True
    result_ttl_s: float = _DEFAULT_RESULT_TTL_S


class TaskRegistry:
    """Task name → :class:`TaskSpec`, consulted by workers.

    Semantics:
    - registering the *same function object* again replaces its spec
      silently (re-decoration with new options);
    - a *different* function under an existing name raises ``ValueError``;
    - ``_by_name`` is the backing dict (tests clear it between cases).

    Example::

        spec = honker.registry().get("app.tasks.send_email")
    """

    def __init__(self) -> None:
        self._by_name: dict[str, TaskSpec] = {}

    def register(self, spec: TaskSpec) -> None:
        """Add or replace ``spec``; ``ValueError`` on a name clash."""
        existing = self._by_name.get(spec.name)
        if existing is not None and existing.fn is not spec.fn:
            raise DuplicateTaskError(
                f"duplicate task name {spec.name!r} — two functions registered under the "
                f"same name: {existing.fn!r} and {spec.fn!r}. Pass name= to one of the "
                "decorators, or make sure the module is imported only once (not as both "
                "__main__ and its module name, nor reloaded)."
            )
        self._by_name[spec.name] = spec

    def get(self, name: str) -> TaskSpec | None:
        """The spec registered as ``name``, or None."""
        return self._by_name.get(name)

    def names(self) -> list[str]:
        """Every registered task name, sorted."""
        return sorted(self._by_name)

    def queues(self) -> set[str]:
        """The names of the queues that have at least one task."""
        return {spec.queue_name for spec in self._by_name.values()}


_GLOBAL_REGISTRY = TaskRegistry()


def registry() -> TaskRegistry:
    """The process-wide task registry, shared by every Database and queue."""
    return _GLOBAL_REGISTRY


class TaskResult:
    """A handle on the result of one enqueued task call.

    Semantics:
    - ``get``/``aget`` wait for the result row the worker stores after a
      success (``store_result=True``, the ``@task`` default); with
      ``store_result=False`` and ``timeout=None`` they wait forever;
    - a failed or dead-lettered job stores nothing, so waiting then also
      runs until the timeout;
    - ``TimeoutError`` (``asyncio.TimeoutError``) after ``timeout`` seconds.

    Example::

        r = send_email("a@example.com")
        print(r.id, r.get(timeout=10))
    """

    __slots__ = ("_db", "_job_id", "_queue")

    def __init__(self, db: Database, queue: Queue, job_id: int) -> None:
        self._db = db
        self._queue = queue
        self._job_id = job_id

    @property
    def id(self) -> int:
        """The job id (also the result's key)."""
        return self._job_id

    def get(self, timeout: float | None = None) -> Any:
        """Block until the result is stored and return it (runs its own event loop).

        Raises ``RuntimeError`` inside a running event loop (use :meth:`aget`).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.aget(timeout))
        raise ResultInLoopError(
            "TaskResult.get() cannot be called from a running event loop; "
            "use 'await result.aget()' instead"
        )

    async def aget(self, timeout: float | None = None) -> Any:
        """Wait for the result on the current event loop and return it."""
        return await self._queue.wait_result(self._job_id, timeout)

    def __repr__(self) -> str:
        return f"TaskResult(queue={self._queue.name!r}, id={self._job_id})"


class _TaskWrapper:
    """What ``@q.task()`` returns: calling it enqueues, ``call_local`` runs.

    Semantics:
    - ``wrapper(*args, **kwargs)`` enqueues the envelope in its own write
      transaction (so not inside an open ``db.transaction()``) with the
      task's priority, ``expires`` and ``max_attempts=retries``, and returns
      a :class:`TaskResult`; arguments must be JSON-serialisable
      (``TypeError`` otherwise, nothing enqueued);
    - ``wrapper.call_local(...)`` calls the function in this process;
    - the function's metadata (``__name__``, ``__doc__``, ``__wrapped__``) is
      copied onto the wrapper.

    Example::

        @db.task(retries=5)
        def send_email(to): ...

        result = send_email("a@example.com")     # enqueued, returns TaskResult
        send_email.call_local("a@example.com")   # runs here and now
    """

    def __init__(self, spec: TaskSpec, queue: Queue) -> None:
        self.spec = spec
        self.fn = spec.fn
        self._queue = queue
        functools.update_wrapper(self, spec.fn)

    @property
    def name(self) -> str:
        """The registered task name."""
        return self.spec.name

    def __call__(self, *args: Any, **kwargs: Any) -> TaskResult:
        spec = self.spec
        envelope = {_ENVELOPE: {"task": spec.name, "args": list(args), "kwargs": kwargs}}
        job_id = self._queue.enqueue(
            envelope,
            priority=spec.priority,
            expires=spec.expires_s,
            max_attempts=spec.retries,
        )
        return TaskResult(self._queue.db, self._queue, job_id)

    def call_local(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function directly (no queue) and return its result."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<honker task {self.spec.name!r} on queue {self._queue.name!r}>"


def _task_name(fn: Callable[..., Any], name: str | None) -> str:
    if name:
        return name
    module = getattr(fn, "__module__", None) or "__main__"
    return f"{module}.{fn.__qualname__}"


def _check_called(kind: str, name: object) -> None:
    if name is not None and not isinstance(name, str):
        raise TaskUsageError(
            f"@queue.{kind} must be called: write @queue.{kind}() (with parentheses), "
            f"or @queue.{kind}('name'); got {name!r} as the task name"
        )


def task_decorator(
    queue: Queue,
    name: str | None = None,
    *,
    retries: int | None = None,
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
    timeout_s: float | None = None,
    priority: int = 0,
    expires_s: float | None = None,
    store_result: bool = True,
    result_ttl_s: float = _DEFAULT_RESULT_TTL_S,
) -> Callable[[Callable[..., Any]], _TaskWrapper]:
    """``Queue.task(...)``: a decorator registering ``fn`` as a task on ``queue``.

    Semantics:
    - ``retries`` (default: the queue's ``max_attempts``) is the number of
      executions allowed and is stored as the job row's ``max_attempts``;
      ``retries=0`` dead-letters every call unrun;
    - failures are retried after a constant ``retry_delay_s``; a handler may
      raise ``honker.Retryable(delay_s=N)`` to choose the delay;
    - ``timeout_s`` bounds one execution (a sync function keeps running in
      its thread after the timeout: the retry may overlap it);
    - ``store_result``: save the return value for ``result_ttl_s`` seconds
      so :class:`TaskResult` can fetch it;
    - no database work happens at decoration time.

    Example::

        @db.queue("emails").task(retries=5, timeout_s=30)
        async def send_email(to): ...
    """
    _check_called("task", name)

    def decorate(fn: Callable[..., Any]) -> _TaskWrapper:
        spec = TaskSpec(
            name=_task_name(fn, name),
            fn=fn,
            queue_name=queue.name,
            retries=queue.max_attempts if retries is None else int(retries),
            retry_delay_s=retry_delay_s,
            timeout_s=timeout_s,
            priority=priority,
            expires_s=expires_s,
            store_result=store_result,
            result_ttl_s=result_ttl_s,
        )
        _GLOBAL_REGISTRY.register(spec)
        return _TaskWrapper(spec, queue)

    return decorate


def periodic_task_decorator(
    queue: Queue,
    schedule: Any,
    *,
    name: str | None = None,
    scheduler_name: str | None = None,
    expires_s: float | None = None,
    priority: int = 0,
    store_result: bool = False,
    result_ttl_s: float = _DEFAULT_RESULT_TTL_S,
) -> Callable[[Callable[..., Any]], _TaskWrapper]:
    """``Queue.periodic_task(schedule, ...)``: a task the scheduler enqueues on ``schedule``.

    Semantics:
    - decorating registers the task *and writes its scheduler row at once*
      (``Scheduler(db).add(...)``, name ``scheduler_name`` or the task name,
      a no-argument envelope, ``max_attempts=3``): importing the module
      writes to the database and resets the next fire time to the next
      boundary after now;
    - a running :class:`honker.Scheduler` enqueues the envelope on each
      boundary and a worker runs the function with no arguments;
    - ``schedule`` is a ``crontab(...)``/``every_s(...)`` object; results are
      not stored unless ``store_result=True``.

    Example::

        @db.periodic_task(honker.crontab("0 3 * * *"))
        def nightly_cleanup(): ...
    """
    _check_called("periodic_task", name)

    def decorate(fn: Callable[..., Any]) -> _TaskWrapper:
        from ._scheduler import Scheduler  # late: the scheduler is optional until used

        task_name = _task_name(fn, name)
        spec = TaskSpec(
            name=task_name,
            fn=fn,
            queue_name=queue.name,
            priority=priority,
            expires_s=expires_s,
            store_result=store_result,
            result_ttl_s=result_ttl_s,
        )
        previous = _GLOBAL_REGISTRY.get(task_name)
        _GLOBAL_REGISTRY.register(spec)
        try:
            Scheduler(queue.db).add(
                name=scheduler_name or task_name,
                queue=queue.name,
                schedule=schedule,
                payload={_ENVELOPE: {"task": task_name, "args": [], "kwargs": {}}},
                priority=priority,
                expires=expires_s,
            )
        except BaseException:
            # No schedule row, no task: leave the registry as it was.
            if previous is None:
                _GLOBAL_REGISTRY._by_name.pop(task_name, None)
            else:
                _GLOBAL_REGISTRY._by_name[task_name] = previous
            raise
        return _TaskWrapper(spec, queue)

    return decorate


class Retryable(Exception):
    """Raise from a task to ask for a retry after ``delay_s`` seconds.

    Semantics: the delay replaces the task's retry formula; the attempt budget
    still applies (the last attempt dead-letters with ``str(exc)`` as error).

    Example::

        raise honker.Retryable("rate limited", delay_s=30)
    """

    def __init__(self, message: str = "", delay_s: float = DEFAULT_RETRY_DELAY_S) -> None:
        super().__init__(message)
        self.delay_s = int(delay_s)


def load_app(target: str) -> Any:
    """Import ``"module.path:attr"`` and return the attribute (a worker's Database).

    Semantics: importing runs the module's ``@task`` decorators, which fill
    the registry; the returned object is not type-checked.

    Raises ``ValueError`` without a ``:``, ``ImportError`` when the module
    cannot be imported, ``AttributeError`` when the attribute is missing or
    None.

    Example::

        db = load_app("myapp.tasks:db")
    """
    module_path, sep, attr = target.partition(":")
    if not sep:
        raise TargetError(f"target must be 'module.path:variable', got {target!r}")
    module = importlib.import_module(module_path)
    app = getattr(module, attr, None)
    if app is None:
        raise TargetAttributeError(f"{module_path} has no attribute {attr!r}")
    return app
