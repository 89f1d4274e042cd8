"""Read-only inspection queries behind ``honker queues|dead|streams|schedules``.

Semantics:
- :func:`open_readonly` opens the file with ``mode=ro`` and no honker setup,
  so inspecting never changes the database (no schema bootstrap, no PRAGMA
  writes); like any SQLite reader of a WAL database it may create the
  ``-wal``/``-shm`` side files if they are missing;
- every function takes that connection and returns plain dicts, ready for
  JSON; "now" is SQLite's ``unixepoch()``, the clock the engine uses;
- a honker table that does not exist yet reads as empty.

Example::

    with Inspector("app.db") as inspector:
        for row in inspector.queue_counts():
            print(row["queue"], row["pending"])
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from typing import Any

from ..._errors import InspectError
from ..base import empty_counts
from .sql import Q

HONKER_TABLES = (
    "_honker_live",
    "_honker_dead",
    "_honker_stream",
    "_honker_stream_consumers",
    "_honker_scheduler_tasks",
)


def open_readonly(path: str) -> sqlite3.Connection:
    """Open ``path`` read-only for inspection; :class:`InspectError` if unusable."""
    if not os.path.exists(path):
        raise InspectError(f"no such database file: {path}")
    if os.path.isdir(path):
        raise InspectError(f"{path} is a directory, not a database file")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InspectError(f"cannot open {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        found = _tables(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise InspectError(f"cannot read {path}: {exc}") from None
    if not found & set(HONKER_TABLES):
        conn.close()
        raise InspectError(f"{path} is not a honker database (no _honker_* tables)")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(Q["inspect_tables"]).fetchall()
    return {r[0] for r in rows}


def db_now(conn: sqlite3.Connection) -> int:
    """SQLite's current unix second."""
    return int(conn.execute(Q["now"]).fetchone()[0])


def _live_counts(conn: sqlite3.Connection, now: int) -> dict[str, dict[str, Any]]:
    """Per queue: the four counts and ``oldest_run_at`` (of its pending jobs).

    Cost: one pass over each partial index (pending, processing), then an
    index range for the delayed jobs and one seek for the oldest per queue,
    so a million jobs count in tens of milliseconds, reading no table row.
    """
    tables = _tables(conn)
    counts: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return counts.setdefault(name, empty_counts(name))

    if "_honker_live" in tables:
        for name, total in conn.execute(Q["inspect_pending_totals"]).fetchall():
            r = row(name)
            args = {"queue": name, "now": now}
            r["delayed"] = conn.execute(Q["inspect_delayed_count"], args).fetchone()[0]
            r["pending"] = total - r["delayed"]
            r["oldest_run_at"] = conn.execute(Q["inspect_oldest_run_at"], args).fetchone()[0]
        for name, processing in conn.execute(Q["inspect_processing_counts"]):
            row(name)["processing"] = processing
    if "_honker_dead" in tables:
        for name, dead in conn.execute(Q["inspect_dead_counts"]):
            row(name)["dead"] = dead
    return counts


def _snapshot(conn: sqlite3.Connection) -> Any:
    """A read transaction for the duration of one inspection (so its counts
    agree with each other), ended before returning: nothing is held between
    calls, so an inspector never pins the WAL."""
    if conn.in_transaction:
        return contextlib.nullcontext()
    return _ReadTx(conn)


class _ReadTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        self._conn.execute("COMMIT")


def queue_counts(conn: sqlite3.Connection, now: int | None = None) -> list[dict[str, Any]]:
    """Per queue: ``pending`` (due now), ``delayed`` (pending, ``run_at > now``),
    ``processing`` and ``dead`` counts; sorted by queue name.

    The four counts are disjoint; expired rows are counted where they sit.
    """
    with _snapshot(conn):
        now = db_now(conn) if now is None else now
        counts = _live_counts(conn, now)
    out = []
    for name in sorted(counts):
        r = counts[name]
        del r["oldest_run_at"]
        out.append(r)
    return out


def dead_letters(conn: sqlite3.Connection, queue: str, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` dead rows of ``queue`` (most recent death first)."""
    if "_honker_dead" not in _tables(conn):
        return []
    cur = conn.execute(Q["inspect_dead_letters"], (queue, int(limit)))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


def stream_lags(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per topic and consumer: saved ``offset``, topic ``max_offset``, ``lag``.

    ``lag`` counts the topic's events after the saved offset (offsets are
    global across topics, so a difference of offsets would overcount). A
    topic nobody consumes is listed once with ``consumer`` None and its whole
    length as lag.
    """
    tables = _tables(conn)
    if "_honker_stream" not in tables:
        return []
    topics = {
        topic: (max_offset, events)
        for topic, max_offset, events in conn.execute(Q["inspect_topics"])
    }
    consumers: list[tuple[str, str, int]] = []
    if "_honker_stream_consumers" in tables:
        consumers = conn.execute(Q["inspect_consumers"]).fetchall()
    out: list[dict[str, Any]] = []
    consumed = {topic for topic, _, _ in consumers}
    for topic, name, offset in consumers:
        max_offset = topics.get(topic, (0, 0))[0]
        lag = conn.execute(Q["inspect_lag"], (topic, offset)).fetchone()[0]
        out.append(
            {
                "topic": topic,
                "consumer": name,
                "offset": offset,
                "max_offset": max_offset,
                "lag": lag,
            }
        )
    for topic, (max_offset, events) in topics.items():
        if topic not in consumed:
            out.append(
                {
                    "topic": topic,
                    "consumer": None,
                    "offset": 0,
                    "max_offset": max_offset,
                    "lag": events,
                }
            )
    out.sort(key=lambda r: (r["topic"], r["consumer"] is not None, r["consumer"] or ""))
    return out


def schedules(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every registered periodic task, by name: queue, cron_expr, enabled, next_fire_at."""
    if "_honker_scheduler_tasks" not in _tables(conn):
        return []
    cur = conn.execute(Q["inspect_schedules"])
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur]
    for r in rows:
        r["enabled"] = bool(r["enabled"])
    return rows


def overview(conn: sqlite3.Connection) -> dict[str, Any]:
    """Everything an operator's overview (and ``honker metrics``) shows, in one
    read transaction.

    ``queues``: per queue the four counts, ``oldest_due_age_s`` (None when
    nothing is due), ``paused`` and the all-time ``completed``/``failed``/
    ``retried`` counters (0 where honker-py's side tables do not exist yet);
    ``streams``: :func:`stream_lags`; ``schedules``: :func:`schedules`;
    ``locks``: every lock row (``name``, ``owner``, ``expires_at``; a row past
    its expiry is free to take); ``rate_limits``: each limit's newest window
    (``name``, ``window_start``, ``count``); ``now``: the database clock.
    """
    with _snapshot(conn):
        now = db_now(conn)
        tables = _tables(conn)
        queues = _live_counts(conn, now)
        paused = set()
        if "_honkerpy_paused" in tables:
            paused = {row[0] for row in conn.execute(Q["inspect_paused"])}
        totals = {}
        if "_honkerpy_totals" in tables:
            totals = {row[0]: row[1:] for row in conn.execute(Q["inspect_totals"])}
        locks: list[dict[str, Any]] = []
        if "_honker_locks" in tables:
            locks = _dicts(conn.execute(Q["inspect_locks"]))
        limits: list[dict[str, Any]] = []
        if "_honker_rate_limits" in tables:
            limits = _dicts(conn.execute(Q["inspect_rate_limits"]))
        streams, scheduled = stream_lags(conn), schedules(conn)
    for name in (*paused, *totals):
        queues.setdefault(name, empty_counts(name))
    for name, item in queues.items():
        oldest = item.pop("oldest_run_at")
        item["oldest_due_age_s"] = now - oldest if item["pending"] and oldest is not None else None
        item["paused"] = name in paused
        item["completed"], item["failed"], item["retried"] = totals.get(name, (0, 0, 0))
    return {
        "now": now,
        "queues": [queues[name] for name in sorted(queues)],
        "streams": streams,
        "schedules": scheduled,
        "locks": locks,
        "rate_limits": limits,
    }


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


class Inspector:
    """The read-only view the CLI uses (``honker/backends/__init__.py``,
    ``open_inspector``): each method is one of the functions above on a
    connection opened by :func:`open_readonly`."""

    def __init__(self, path: str) -> None:
        self._conn = open_readonly(path)
        self.path = path  # as the CLI shows it

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def queue_counts(self) -> list[dict[str, Any]]:
        return queue_counts(self._conn)

    def dead_letters(self, queue: str, limit: int) -> list[dict[str, Any]]:
        return dead_letters(self._conn, queue, limit)

    def stream_lags(self) -> list[dict[str, Any]]:
        return stream_lags(self._conn)

    def schedules(self) -> list[dict[str, Any]]:
        return schedules(self._conn)

    def overview(self) -> dict[str, Any]:
        return overview(self._conn)

    def close(self) -> None:
        self._conn.close()
