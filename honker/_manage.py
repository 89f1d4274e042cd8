"""Job management: what an operator does to a queue (``Queue.stats``, ``jobs``,
``requeue_dead``, ``delete_dead``, ``run_now``, ``cancel_where``).

Semantics shared by every call:
- one transaction each (or the caller's, with ``tx=``); each returns what it did;
- ``where`` filters on the payload: a dict mapping JSON paths to values,
  ``{"$.user_id": 42}``, compared with SQLite's JSON comparison (a JSON
  ``true`` is 1; several keys are ANDed; ``None`` also matches a missing path);
- ids are never reused, so a requeued dead job keeps its id, and results and
  logs keyed by it still line up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, ParameterError
from ._marshal import duration_arg, int_arg
from .backends.base import JOB_STATES, MANAGED_JOB_COLUMNS

if TYPE_CHECKING:
    from ._database import Database
    from .backends.base import Ops

_SCALARS = (str, int, float, bool, type(None))
MAX_THROUGHPUT_MINUTES = 48 * 60  # what the history keeps


def where_json(where: Any) -> str | None:
    """``where`` checked and encoded for the backend (None: no filter)."""
    if where is None:
        return None
    if not isinstance(where, dict) or not where:
        raise ParameterError(
            'where must be a non-empty dict of JSON paths to values, e.g. {"$.user_id": 42}'
        )
    for path, value in where.items():
        if not isinstance(path, str) or not path.startswith("$"):
            raise ConfigError(f"where keys must be JSON paths starting with '$', got {path!r}")
        if not isinstance(value, _SCALARS):
            raise ParameterError(
                f"where[{path!r}] must be a str, number, bool or None, got {type(value).__name__}"
            )
    try:
        return json.dumps(where, allow_nan=False)
    except ValueError:
        raise ConfigError("where values must be finite numbers") from None


def where_item(text: str) -> tuple[str, Any]:
    """One ``PATH=VALUE`` filter term (the CLI's ``--where``, the dashboard's
    filter box): the value is JSON if it parses (``42``, ``true``, ``null``,
    ``"quoted"``), else the bare text."""
    path, sep, raw = text.strip().partition("=")
    path = path.strip()
    if not sep or not path.startswith("$"):
        raise ParameterError(f"expected PATH=VALUE with a JSON path, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw.strip()
    return path, value


def _ids(job_ids: Any) -> list[int] | None:
    if job_ids is None:
        return None
    if isinstance(job_ids, str | bytes) or not isinstance(job_ids, Iterable):
        raise ParameterError(f"job_ids must be an iterable of ints, got {type(job_ids).__name__}")
    return [int_arg("job_ids item", i) for i in job_ids]


def _decode(payload: Any) -> Any:
    try:
        return json.loads(payload)
    except (TypeError, ValueError):
        return payload  # not JSON (a hand edit): shown as stored


def _run(db: Database, tx: Any, fn: Any, *, read: bool = False) -> Any:
    """``fn(ops)`` in ``tx`` (a transaction of the backend), else on a reader
    (``read``: no write lock taken) or in a write transaction of its own."""
    if tx is None:
        return db._read(fn) if read else db._write(fn)
    if not db._backend.owns(tx):
        raise ParameterError(
            f"tx must be the Transaction of `with db.transaction() as tx:`, got {type(tx).__name__}"
        )
    return db._backend.run_in(tx, fn)


def stats(db: Database, queue: str, tx: Any = None) -> dict[str, Any]:
    """Counts of ``pending`` (due now), ``delayed``, ``processing`` and ``dead`` jobs,
    ``oldest_due_age_s`` (seconds the oldest due job has waited; None if none)
    and ``paused``."""
    return dict(_run(db, tx, lambda o: o.queue_stats(queue), read=True))


def jobs(
    db: Database,
    queue: str,
    state: str | None,
    limit: int,
    after_id: int | None,
    where: Any,
    tx: Any = None,
) -> list[dict[str, Any]]:
    """A page of jobs as dicts (``MANAGED_JOB_COLUMNS``, payload decoded), by id."""
    if state is not None and state not in JOB_STATES:
        raise ConfigError(f"state must be one of {', '.join(JOB_STATES)} or None, got {state!r}")
    n = int_arg("limit", limit)
    if n <= 0:
        raise ConfigError(f"limit must be positive, got {n}")
    after = 0 if after_id is None else int_arg("after_id", after_id)
    filt = where_json(where)
    rows = _run(db, tx, lambda o: o.list_jobs(queue, state, n, after, filt), read=True)
    out = []
    for row in rows:
        item = dict(zip(MANAGED_JOB_COLUMNS, row, strict=True))
        item["payload"] = _decode(item["payload"])
        out.append(item)
    return out


def _bulk(
    db: Database,
    queue: str,
    job_ids: Any,
    where: Any,
    limit: int | None,
    older_than_s: Any,
    tx: Any,
    act: str,
) -> int:
    ids, filt = _ids(job_ids), where_json(where)
    n = -1 if limit is None else int_arg("limit", limit)
    if limit is not None and n < 0:
        raise ConfigError(f"limit must not be negative, got {n}")
    older = None if older_than_s is None else duration_arg("older_than_s", older_than_s)

    def body(o: Ops) -> int:
        chosen = o.dead_ids(queue, ids, filt, older, n)
        if act == "count":
            return len(chosen)
        return o.requeue_dead(chosen) if act == "requeue" else o.delete_dead(chosen)

    return int(_run(db, tx, body, read=act == "count"))


def count_dead(
    db: Database, queue: str, job_ids: Any, where: Any, limit: int | None, older_than_s: Any
) -> int:
    """How many dead jobs ``requeue_dead``/``delete_dead`` with these arguments would touch."""
    return _bulk(db, queue, job_ids, where, limit, older_than_s, None, "count")


def requeue_dead(
    db: Database, queue: str, job_ids: Any, where: Any, limit: int | None, tx: Any = None
) -> int:
    """Dead jobs back to pending (due now, attempts 0); returns how many moved."""
    return _bulk(db, queue, job_ids, where, limit, None, tx, "requeue")


def delete_dead(
    db: Database, queue: str, job_ids: Any, where: Any, older_than_s: Any, tx: Any = None
) -> int:
    """Delete dead jobs for good; returns how many."""
    return _bulk(db, queue, job_ids, where, None, older_than_s, tx, "delete")


def run_now(db: Database, queue: str, job_id: int, tx: Any = None) -> bool:
    """Make a delayed job due now; False if it is not a delayed job of ``queue``."""
    job = int_arg("job_id", job_id)
    return bool(_run(db, tx, lambda o: o.run_now(queue, job)))


def throughput(db: Database, queue: str, minutes: int) -> list[dict[str, int]]:
    """One dict per minute of the last ``minutes`` (oldest first, zeros filled):
    ``minute`` (unix seconds, database clock), ``completed``, ``failed``, ``retried``."""
    n = int_arg("minutes", minutes)
    if not 1 <= n <= MAX_THROUGHPUT_MINUTES:
        raise ConfigError(f"minutes must be between 1 and {MAX_THROUGHPUT_MINUTES}, got {n}")
    now_minute, rows = db._read(lambda o: o.throughput(queue, n))
    counted = {row[0]: row for row in rows}
    out = []
    for minute in range(now_minute - 60 * (n - 1), now_minute + 1, 60):
        _, completed, failed, retried = counted.get(minute, (minute, 0, 0, 0))
        out.append({"minute": minute, "completed": completed, "failed": failed, "retried": retried})
    return out


def throughput_totals(db: Database) -> dict[str, dict[str, int]]:
    """Per queue: completed, failed and retried jobs since the counters began."""
    rows = db._read(lambda o: o.throughput_totals())
    return {q: {"completed": c, "failed": f, "retried": r} for q, c, f, r in rows}


def set_paused(db: Database, queue: str, paused: bool, tx: Any = None) -> bool:
    """Pause or resume ``queue``; True if that changed its state."""
    return bool(_run(db, tx, lambda o: o.set_paused(queue, paused)))


def is_paused(db: Database, queue: str) -> bool:
    return db._read(lambda o: o.is_paused(queue))


def cancel_pending(db: Database, queue: str, job_id: int, tx: Any = None) -> bool:
    """Delete one pending job (due or delayed) of ``queue``; False if it is not
    pending there (claimed jobs are left to finish)."""
    job = int_arg("job_id", job_id)
    return bool(_run(db, tx, lambda o: o.cancel_pending(queue, job)))


def cancel_where(db: Database, queue: str, where: Any, tx: Any = None) -> int:
    """Delete the pending (due or delayed) jobs whose payload matches; claimed ones stay."""
    filt = where_json(where)
    if filt is None:
        raise ParameterError("cancel_where needs a where filter (use cancel(job_id) for one job)")
    return int(_run(db, tx, lambda o: o.cancel_where(queue, filt)))
