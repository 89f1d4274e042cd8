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

import os
import sqlite3
import urllib.parse
from typing import Any

from ..._errors import InspectError
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


def queue_counts(conn: sqlite3.Connection, now: int | None = None) -> list[dict[str, Any]]:
    """Per queue: ``pending`` (due now), ``delayed`` (pending, ``run_at > now``),
    ``processing`` and ``dead`` counts; sorted by queue name.

    The four counts are disjoint; expired rows are counted where they sit.
    """
    now = db_now(conn) if now is None else now
    tables = _tables(conn)
    counts: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return counts.setdefault(
            name, {"queue": name, "pending": 0, "processing": 0, "delayed": 0, "dead": 0}
        )

    if "_honker_live" in tables:
        for name, pending, processing, delayed in conn.execute(
            Q["inspect_queue_counts"], {"now": now}
        ):
            r = row(name)
            r["pending"], r["processing"], r["delayed"] = pending, processing, delayed
    if "_honker_dead" in tables:
        for name, dead in conn.execute(Q["inspect_dead_counts"]):
            row(name)["dead"] = dead
    return [counts[name] for name in sorted(counts)]


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
    """Everything an operator's overview (and ``honker metrics``) shows, in one read.

    ``queues``: per queue the four counts, ``oldest_due_age_s`` (None when
    nothing is due), ``paused`` and the all-time ``completed``/``failed``/
    ``retried`` counters (0 where honker-py's side tables do not exist yet);
    ``streams``: :func:`stream_lags`; ``schedules``: :func:`schedules`; ``now``:
    the database clock.
    """
    now = db_now(conn)
    tables = _tables(conn)
    queues = {r["queue"]: r for r in queue_counts(conn, now)}

    def entry(name: str) -> dict[str, Any]:
        return queues.setdefault(
            name, {"queue": name, "pending": 0, "processing": 0, "delayed": 0, "dead": 0}
        )

    if "_honker_live" in tables:
        for name, age in conn.execute(Q["inspect_oldest_due"]):
            entry(name)["oldest_due_age_s"] = age
    paused = set()
    if "_honkerpy_paused" in tables:
        paused = {row[0] for row in conn.execute(Q["inspect_paused"])}
        for name in paused:
            entry(name)
    totals = {}
    if "_honkerpy_totals" in tables:
        totals = {row[0]: row[1:] for row in conn.execute(Q["inspect_totals"])}
        for name in totals:
            entry(name)
    for name, item in queues.items():
        item.setdefault("oldest_due_age_s", None)
        item["paused"] = name in paused
        item["completed"], item["failed"], item["retried"] = totals.get(name, (0, 0, 0))
    return {
        "now": now,
        "queues": [queues[name] for name in sorted(queues)],
        "streams": stream_lags(conn),
        "schedules": schedules(conn),
    }


class Inspector:
    """The read-only view the CLI uses (``honker/backends/__init__.py``,
    ``open_inspector``): each method is one of the functions above on a
    connection opened by :func:`open_readonly`."""

    def __init__(self, path: str) -> None:
        self._conn = open_readonly(path)

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
