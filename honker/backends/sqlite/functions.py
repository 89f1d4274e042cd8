"""Registers ``notify()`` and every ``honker_*`` SQL function on a connection.

Each function is a thin adapter over the operation in :mod:`honker.backends.sqlite.engine`:
it checks argument types the way honker does (strict: an INTEGER argument
accepts only INTEGER, optional ones also NULL), calls the operation on the same
connection (so it joins the caller's transaction), and encodes JSON results
byte-identically to honker (sorted keys, compact, raw UTF-8).

Python's ``sqlite3`` reports any exception raised by a user function as
``user-defined function raised exception``. To keep honker's messages, the
adapter remembers the exception in a thread-local (user functions run on the
calling thread) and :func:`take_error` hands it back to the code that
translates the failed statement.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..base import EVENT_COLUMNS, JOB_COLUMNS, SCHEDULE_COLUMNS
from .engine import locks, pubsub, queue, ratelimit, results, scheduler, schema, streams

UDF_FAILED = "user-defined function raised exception"

_last = threading.local()


def take_error() -> BaseException | None:
    """The exception a user function raised on this thread, once."""
    err: BaseException | None = getattr(_last, "error", None)
    _last.error = None
    return err


def dumps(obj: Any) -> str:
    """JSON text exactly as honker's serde_json output."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class ArgTypeError(Exception):
    """honker's ``Invalid function parameter type ...`` message."""


_TYPE_NAMES = {type(None): "Null", int: "Integer", float: "Real", str: "Text", bytes: "Blob"}

# Argument kinds: "i" integer, "t" text; a trailing "?" also accepts NULL.
_ACCEPT = {
    "i": (int,),
    "t": (str,),
    "i?": (int, type(None)),
    "t?": (str, type(None)),
}


def _checked(fn: Callable[..., Any], kinds: Sequence[str]) -> Callable[..., Any]:
    accepts = [_ACCEPT[k] for k in kinds]

    def udf(*args: Any) -> Any:
        try:
            for i, (value, ok) in enumerate(zip(args, accepts, strict=True)):
                if type(value) not in ok:
                    name = _TYPE_NAMES.get(type(value), type(value).__name__)
                    raise ArgTypeError(f"Invalid function parameter type {name} at index {i}")
            return fn(*args)
        except BaseException as exc:
            _last.error = exc
            raise

    return udf


def _json_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return dumps([dict(zip(columns, row, strict=True)) for row in rows])


_CLAIM_COLUMNS = ("id", "queue", "payload", "worker_id", "attempts", "claim_expires_at")
_FIRE_COLUMNS = ("fire_at", "job_id", "name", "queue")


def _get_job(conn: sqlite3.Connection, job_id: int) -> str:
    row = queue.get_job(conn, job_id)
    return "" if row is None else dumps(dict(zip(JOB_COLUMNS, row, strict=True)))


def _scheduler_list(conn: sqlite3.Connection) -> str:
    rows = [
        {**dict(zip(SCHEDULE_COLUMNS, row, strict=True)), "enabled": bool(row[1])}
        for row in scheduler.list_tasks(conn)
    ]
    return dumps(rows)


def _cron_next_after(expr: str, from_unix: int) -> int:
    from ...cron.expr import next_after

    return next_after(expr, from_unix)


def register(conn: sqlite3.Connection, marks: queue.Watermarks | None = None) -> None:
    """Register every honker SQL function on ``conn`` (idempotent).

    ``marks`` is the connection's dead-letter watermark state (see
    :class:`honker.backends.sqlite.engine.queue.Watermarks`); a new one is made if not given.
    """
    c = conn
    m = queue.Watermarks() if marks is None else marks
    table: list[tuple[str, Sequence[str], Callable[..., Any]]] = [
        ("notify", "tt", lambda ch, p: pubsub.notify(c, ch, p)),
        ("honker_bootstrap", "", lambda: schema.bootstrap(c)),
        (
            "honker_enqueue",
            ("t", "t", "i?", "i?", "i", "i", "i?"),
            lambda *a: queue.enqueue(c, *a),
        ),
        (
            "honker_claim_batch",
            "ttii",
            lambda q, w, n, t: _json_rows(_CLAIM_COLUMNS, queue.claim_batch(c, q, w, n, t, m)),
        ),
        ("honker_ack", "it", lambda *a: queue.ack(c, *a)),
        ("honker_ack_batch", "tt", lambda *a: queue.ack_batch(c, *a)),
        ("honker_retry", "itit", lambda *a: queue.retry(c, *a)),
        ("honker_fail", "itt", lambda *a: queue.fail(c, *a)),
        ("honker_heartbeat", "iti", lambda *a: queue.heartbeat(c, *a)),
        ("honker_cancel", "i", lambda *a: queue.cancel(c, *a)),
        ("honker_get_job", "i", lambda j: _get_job(c, j)),
        ("honker_queue_next_claim_at", "t", lambda q: queue.next_claim_at(c, q)),
        ("honker_sweep_expired", "t", lambda q: queue.sweep_expired(c, q)),
        ("honker_lock_acquire", "tti", lambda *a: locks.acquire(c, *a)),
        ("honker_lock_release", "tt", lambda *a: locks.release(c, *a)),
        ("honker_lock_renew", "tti", lambda *a: locks.renew(c, *a)),
        ("honker_rate_limit_try", "tii", lambda *a: ratelimit.try_acquire(c, *a)),
        ("honker_rate_limit_sweep", "i", lambda *a: ratelimit.sweep(c, *a)),
        ("honker_result_save", "iti", lambda *a: results.save(c, *a)),
        ("honker_result_get", "i", lambda *a: results.get(c, *a)),
        ("honker_result_sweep", "", lambda: results.sweep(c)),
        ("honker_stream_publish", ("t", "t?", "t"), lambda *a: streams.publish(c, *a)),
        (
            "honker_stream_read_since",
            "tii",
            lambda *a: _json_rows(EVENT_COLUMNS, streams.read_since(c, *a)),
        ),
        ("honker_stream_save_offset", "tti", lambda *a: streams.save_offset(c, *a)),
        ("honker_stream_get_offset", "tt", lambda *a: streams.get_offset(c, *a)),
        (
            "honker_scheduler_register",
            ("t", "t", "t", "t", "i", "i?"),
            lambda *a: scheduler.register(c, *a),
        ),
        (
            "honker_scheduler_register",
            ("t", "t", "t", "t", "i", "i?", "i"),
            lambda *a: scheduler.register(c, *a),
        ),
        ("honker_scheduler_unregister", "t", lambda n: scheduler.unregister(c, n)),
        ("honker_scheduler_pause", "t", lambda n: scheduler.pause(c, n)),
        ("honker_scheduler_resume", "t", lambda n: scheduler.resume(c, n)),
        ("honker_scheduler_soonest", "", lambda: scheduler.soonest(c)),
        ("honker_scheduler_list", "", lambda: _scheduler_list(c)),
        (
            "honker_scheduler_update",
            ("t", "t?", "t?", "i?", "i?", "i"),
            lambda *a: scheduler.update(c, *a),
        ),
        (
            "honker_scheduler_update",
            ("t", "t?", "t?", "i?", "i?", "i", "i?", "i"),
            lambda *a: scheduler.update(c, *a),
        ),
        (
            "honker_scheduler_tick",
            "i",
            lambda now: _json_rows(_FIRE_COLUMNS, scheduler.tick(c, now)),
        ),
    ]
    for name, kinds, fn in table:
        conn.create_function(name, len(kinds), _checked(fn, kinds))
    conn.create_function(
        "honker_cron_next_after", 2, _checked(_cron_next_after, "ti"), deterministic=True
    )
