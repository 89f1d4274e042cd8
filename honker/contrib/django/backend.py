"""``TaskBackend``: Django's Tasks framework (``django.tasks``) on honker queues.

Configuration::

    TASKS = {
        "default": {
            "BACKEND": "honker.contrib.django.TaskBackend",
            "QUEUES": ["default", "emails"],
            "OPTIONS": {"MAX_ATTEMPTS": 3, "RETRY_DELAY_S": 60},
        }
    }

Semantics:
- **atomic enqueue.** When the honker file is the file behind the Django
  SQLite connection ``OPTIONS["DATABASE"]`` (default ``"default"``; the
  default ``PATH`` *is* that file), ``task.enqueue()`` writes the job and its
  READY result through that connection: both are part of the current
  ``transaction.atomic()`` block, a rollback leaves no job, a commit wakes
  the workers (honker's watcher sees the commit). Outside a block the write
  commits at once;
- **otherwise** (``PATH`` names another file, or Django's database is not
  SQLite) the job is written through honker's own connection in
  ``transaction.on_commit``: nothing is enqueued if the block rolls back, and
  ``get_result`` knows the id only once the block has committed;
- ``priority`` is honker's priority (higher first); ``run_after`` is honker's
  ``run_at`` (rounded up to a whole second); ``queue_name`` is the honker
  queue and must be in ``QUEUES``;
- a task that raises is retried after ``RETRY_DELAY_S`` until it has run
  ``MAX_ATTEMPTS`` times; the result is READY between attempts and FAILED
  after the last, with one error (class path, traceback) per attempt;
- ``OPTIONS["EAGER"] = True`` (for tests) writes nothing: the task runs in
  this process when the transaction commits (``captureOnCommitCallbacks(
  execute=True)`` in a ``TestCase``), its result kept in memory.

Options: ``PATH``, ``DATABASE``, ``VISIBILITY_TIMEOUT_S`` (300),
``MAX_ATTEMPTS`` (3), ``RETRY_DELAY_S`` (60), ``RESULT_TTL_S`` (None: keep
until ``honker_prune_results``), ``EAGER`` (False).
"""

from __future__ import annotations

import json
import math
import os
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

import honker

from . import checks, results
from ._compat import (
    BaseTaskBackend,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
)

DEFAULT_VISIBILITY_TIMEOUT_S = 300
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_S = 60

_MEMORY_NAMES = ("", ":memory:")
_HAS_SCHEMA = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_honker_live'"


def _is_memory(name: str) -> bool:
    return name in _MEMORY_NAMES or "mode=memory" in name


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


class TaskBackend(BaseTaskBackend):
    """honker as a ``django.tasks`` backend (see the module docstring)."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        opts = {k.upper(): v for k, v in self.options.items()}
        self.database_alias: str = opts.get("DATABASE", DEFAULT_DB_ALIAS)
        self._path_option: str | None = None if opts.get("PATH") is None else str(opts["PATH"])
        self.visibility_timeout_s = int(
            opts.get("VISIBILITY_TIMEOUT_S", DEFAULT_VISIBILITY_TIMEOUT_S)
        )
        self.max_attempts = int(opts.get("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
        self.retry_delay_s = int(opts.get("RETRY_DELAY_S", DEFAULT_RETRY_DELAY_S))
        ttl = opts.get("RESULT_TTL_S")
        self.result_ttl_s: int | None = None if ttl is None else int(ttl)
        self.eager = bool(opts.get("EAGER", False))
        self._db: honker.Database | None = None
        self._db_path: str | None = None
        self._db_lock = threading.Lock()
        self._eager_results: dict[str, TaskResult] = {}

    # -- where the queue lives -------------------------------------------------
    @property
    def path(self) -> str:
        """The honker database file: ``OPTIONS["PATH"]``, else the Django database's file.

        Read at each use, so a test runner's renamed test database is followed.
        """
        if self._path_option is not None:
            return self._path_option
        settings_dict = connections[self.database_alias].settings_dict
        name = str(settings_dict.get("NAME") or "")
        if connections[self.database_alias].vendor != "sqlite" or _is_memory(name):
            raise ImproperlyConfigured(
                f"TASKS[{self.alias!r}]: honker needs a database file, and "
                f"DATABASES[{self.database_alias!r}] is {name or 'not SQLite'!r}. Set "
                f'TASKS[{self.alias!r}]["OPTIONS"]["PATH"] to a file, or, for tests, '
                f'DATABASES[{self.database_alias!r}]["TEST"]["NAME"] to a file (Django\'s '
                'default test database is in memory), or OPTIONS["EAGER"] = True.'
            )
        return name

    def shared_connection(self) -> Any:
        """The Django connection whose file is the honker file, or None.

        Raises ``ImproperlyConfigured`` (from :attr:`path`) when there is no file.
        """
        path = self.path
        conn = connections[self.database_alias]
        if conn.vendor != "sqlite":
            return None
        name = str(conn.settings_dict.get("NAME") or "")
        if _is_memory(name):
            return None
        return conn if _same_file(name, path) else None

    def database(self) -> honker.Database:
        """honker's own connection to :attr:`path` (opened on first use, per process)."""
        path = self.path
        with self._db_lock:
            if self._db is None or self._db_path != path:
                if self._db is not None:
                    self._db.close()
                self._db = honker.open(path)
                self._db_path = path
            return self._db

    def queue(self, name: str) -> honker.Queue:
        """The honker queue ``name`` with this backend's options."""
        return self.database().queue(
            name, visibility_timeout_s=self.visibility_timeout_s, max_attempts=self.max_attempts
        )

    def close(self) -> None:
        """Close honker's own connection (the worker command calls this on exit)."""
        with self._db_lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- django.tasks API ----------------------------------------------------------
    def enqueue(self, task: Any, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        result = TaskResult(
            task=task,
            id=results.new_result_id(),
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        if self.eager:
            self._eager_results[result.id] = result
            from .worker import run_eager

            task_enqueued.send(type(self), task_result=result)
            transaction.on_commit(lambda: run_eager(self, result), using=self.database_alias)
            return result
        payload = json.dumps(
            {
                results.ENVELOPE: {
                    "result_id": result.id,
                    "task": task.module_path,
                    "backend": self.alias,
                    "max_attempts": self.max_attempts,
                }
            }
        )
        run_at = None if task.run_after is None else math.ceil(task.run_after.timestamp())
        conn = self.shared_connection()
        if conn is not None:
            self._enqueue_shared(conn, result, payload, run_at)
            task_enqueued.send(type(self), task_result=result)
        else:

            def write() -> None:
                self._enqueue_own(result, payload, run_at)
                task_enqueued.send(type(self), task_result=result)

            transaction.on_commit(write, using=self.database_alias)
        return result

    def _enqueue_shared(
        self, conn: Any, result: TaskResult, payload: str, run_at: int | None
    ) -> None:
        task = result.task
        with transaction.atomic(using=conn.alias, savepoint=False):
            conn.ensure_connection()
            raw = conn.connection
            if getattr(conn, "_honker_raw", None) is not raw:
                # The raw connection Django handed us: honker's SQL functions on
                # it, once per connection (sqlite3 connections are not weak-referable).
                honker.load_extension(raw)
                conn._honker_raw = raw
            with conn.cursor() as cur:
                cur.execute(_HAS_SCHEMA)
                if not cur.fetchone()[0]:
                    cur.execute("SELECT honker_bootstrap()")
                cur.execute(
                    "SELECT honker_enqueue(%s, %s, %s, NULL, %s, %s, NULL)",
                    [task.queue_name, payload, run_at, task.priority, self.max_attempts],
                )
                job_id = int(cur.fetchone()[0])
                state = results.dump(result, job_id=job_id, max_attempts=self.max_attempts)
                cur.execute("SELECT honker_result_save(%s, %s, 0)", [int(result.id), state])

    def _enqueue_own(self, result: TaskResult, payload: str, run_at: int | None) -> None:
        task = result.task
        q = self.queue(task.queue_name)  # before the transaction: a Queue inits the schema
        db = self.database()
        with db.transaction() as tx:
            job_id = q.enqueue(
                json.loads(payload),
                tx=tx,
                run_at=run_at,
                priority=task.priority,
                max_attempts=self.max_attempts,
            )
            state = results.dump(result, job_id=job_id, max_attempts=self.max_attempts)
            tx.query("SELECT honker_result_save(?, ?, 0) AS r", [int(result.id), state])

    def get_result(self, result_id: Any) -> TaskResult:
        """The task's result as stored now, read from any process.

        Raises ``TaskResultDoesNotExist`` for an unknown (or pruned) id, and,
        for an enqueue through ``on_commit``, until the transaction commits.
        """
        rid = str(result_id)
        if self.eager:
            try:
                return self._eager_results[rid]
            except KeyError:
                raise TaskResultDoesNotExist(rid) from None
        key = results.parse_result_id(rid)
        row = None if key is None else self._read_state(key)
        if row is None:
            raise TaskResultDoesNotExist(rid)
        state, last_error = row
        if state["status"] in ("READY", "RUNNING") and last_error is not None:
            # The job reached honker's dead letters without the worker writing
            # FAILED (its last attempt's worker died, or it was failed by hand).
            state["status"] = "FAILED"
            state["errors"] = [
                *state.get("errors", []),
                {"exception_class_path": "honker.HonkerError", "traceback": last_error},
            ]
        return results.load(rid, state)

    def _read_state(self, key: int) -> tuple[dict[str, Any], str | None] | None:
        sql = (
            "SELECT r.value, d.last_error FROM _honker_results AS r "
            "LEFT JOIN _honker_dead AS d ON d.id = json_extract(r.value, '$.job_id') "
            "WHERE r.job_id = {} AND (r.expires_at IS NULL OR r.expires_at >= unixepoch())"
        )
        conn = self.shared_connection()
        if conn is not None:
            # Through Django's connection: sees this transaction's own enqueues.
            with conn.cursor() as cur:
                try:
                    cur.execute(sql.format("%s"), [key])
                except Exception as exc:
                    if "no such table" in str(exc):
                        return None
                    raise
                found = cur.fetchone()
            return None if found is None else (json.loads(found[0]), found[1])
        rows = self.database().query(sql.format("?"), [key])
        return None if not rows else (json.loads(rows[0]["value"]), rows[0]["last_error"])

    def check(self, **kwargs: Any) -> list[Any]:
        return checks.check_backend(self)
