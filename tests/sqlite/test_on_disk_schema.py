"""The on-disk schema, compared column by column with docs/spec/engine.md §2 (written
out literally below), plus the queue-time view, legacy clean-up and the
scheduler-table migration (docs/spec/engine.md §2.10-2.11, docs/spec/python-api.md §1)."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

import honker
from honker.backends.sqlite.sql import Q

# (name, declared type, NOT NULL, default as SQLite reports it, pk position)
TABLES: dict[str, list[tuple[str, str, int, str | None, int]]] = {
    "_honker_notifications": [
        ("id", "INTEGER", 0, None, 1),
        ("channel", "TEXT", 1, None, 0),
        ("payload", "TEXT", 1, None, 0),
        ("created_at", "INTEGER", 1, "unixepoch()", 0),
    ],
    "_honker_live": [
        ("id", "INTEGER", 0, None, 1),
        ("queue", "TEXT", 1, None, 0),
        ("payload", "TEXT", 1, None, 0),
        ("state", "TEXT", 1, "'pending'", 0),
        ("priority", "INTEGER", 1, "0", 0),
        ("run_at", "INTEGER", 1, "unixepoch()", 0),
        ("worker_id", "TEXT", 0, None, 0),
        ("claim_expires_at", "INTEGER", 0, None, 0),
        ("attempts", "INTEGER", 1, "0", 0),
        ("max_attempts", "INTEGER", 1, "3", 0),
        ("created_at", "INTEGER", 1, "unixepoch()", 0),
        ("expires_at", "INTEGER", 0, None, 0),
    ],
    "_honker_dead": [
        ("id", "INTEGER", 0, None, 1),
        ("queue", "TEXT", 1, None, 0),
        ("payload", "TEXT", 1, None, 0),
        ("priority", "INTEGER", 1, "0", 0),
        ("run_at", "INTEGER", 1, "0", 0),
        ("attempts", "INTEGER", 1, "0", 0),
        ("max_attempts", "INTEGER", 1, "0", 0),
        ("last_error", "TEXT", 0, None, 0),
        ("created_at", "INTEGER", 1, "unixepoch()", 0),
        ("died_at", "INTEGER", 1, "unixepoch()", 0),
    ],
    "_honker_locks": [
        ("name", "TEXT", 0, None, 1),
        ("owner", "TEXT", 1, None, 0),
        ("expires_at", "INTEGER", 1, None, 0),
    ],
    "_honker_rate_limits": [
        ("name", "TEXT", 1, None, 1),
        ("window_start", "INTEGER", 1, None, 2),
        ("count", "INTEGER", 1, "0", 0),
    ],
    "_honker_scheduler_tasks": [
        ("name", "TEXT", 0, None, 1),
        ("queue", "TEXT", 1, None, 0),
        ("cron_expr", "TEXT", 1, None, 0),
        ("payload", "TEXT", 1, None, 0),
        ("priority", "INTEGER", 1, "0", 0),
        ("expires_s", "INTEGER", 0, None, 0),
        ("next_fire_at", "INTEGER", 1, None, 0),
        ("enabled", "INTEGER", 1, "1", 0),
        ("max_attempts", "INTEGER", 1, "3", 0),
    ],
    "_honker_results": [
        ("job_id", "INTEGER", 0, None, 1),
        ("value", "TEXT", 0, None, 0),
        ("created_at", "INTEGER", 1, "unixepoch()", 0),
        ("expires_at", "INTEGER", 0, None, 0),
    ],
    "_honker_stream": [
        ("offset", "INTEGER", 0, None, 1),
        ("topic", "TEXT", 1, None, 0),
        ("key", "TEXT", 0, None, 0),
        ("payload", "TEXT", 1, None, 0),
        ("created_at", "INTEGER", 1, "unixepoch()", 0),
    ],
    "_honker_stream_consumers": [
        ("name", "TEXT", 1, None, 1),
        ("topic", "TEXT", 1, None, 2),
        ("offset", "INTEGER", 1, "0", 0),
    ],
}

# index name -> (table, key columns with DESC flag, unique, origin, WHERE clause)
INDEXES: dict[str, tuple[str, list[tuple[str, int]], int, str, str | None]] = {
    "_honker_notifications_recent": (
        "_honker_notifications", [("channel", 0), ("id", 0)], 0, "c", None,
    ),
    "_honker_live_claim": (
        "_honker_live",
        [("queue", 0), ("priority", 1), ("run_at", 0), ("id", 0)],
        0, "c", "state IN ('pending', 'processing')",
    ),
    "_honker_live_pending_deadline": (
        "_honker_live", [("queue", 0), ("run_at", 0)], 0, "c", "state = 'pending'",
    ),
    "_honker_live_processing_deadline": (
        "_honker_live", [("queue", 0), ("claim_expires_at", 0)], 0, "c", "state = 'processing'",
    ),
    "sqlite_autoindex__honker_locks_1": ("_honker_locks", [("name", 0)], 1, "pk", None),
    "sqlite_autoindex__honker_rate_limits_1": (
        "_honker_rate_limits", [("name", 0), ("window_start", 0)], 1, "pk", None,
    ),
    "sqlite_autoindex__honker_scheduler_tasks_1": (
        "_honker_scheduler_tasks", [("name", 0)], 1, "pk", None,
    ),
    "_honker_stream_topic": ("_honker_stream", [("topic", 0), ("offset", 0)], 0, "c", None),
    "sqlite_autoindex__honker_stream_consumers_1": (
        "_honker_stream_consumers", [("name", 0), ("topic", 0)], 1, "pk", None,
    ),
    # honker-py's own index on honker's dead table (migrations/005_dead_queue_index.sql)
    "_honkerpy_dead_queue": ("_honker_dead", [("queue", 0), ("id", 0)], 0, "c", None),
}  # fmt: skip

# sqlite_master rowid order on a fresh file (docs/spec/engine.md §2). SQLite creates
# sqlite_sequence together with the first AUTOINCREMENT table, i.e. between
# _honker_notifications and its index.
MASTER_ORDER = [
    "_honker_notifications",
    "sqlite_sequence",
    "_honker_notifications_recent",
    "_honker_live",
    "_honker_live_claim",
    "_honker_live_pending_deadline",
    "_honker_live_processing_deadline",
    "_honker_dead",
    "_honker_locks",
    "sqlite_autoindex__honker_locks_1",
    "_honker_rate_limits",
    "sqlite_autoindex__honker_rate_limits_1",
    "_honker_scheduler_tasks",
    "sqlite_autoindex__honker_scheduler_tasks_1",
    "_honker_results",
    "_honker_stream",
    "_honker_stream_topic",
    "_honker_stream_consumers",
    "sqlite_autoindex__honker_stream_consumers_1",
    # honker-py's own side table (sql/migrations/003_paused_queues.sql), after honker's
    "_honkerpy_paused",
    "sqlite_autoindex__honkerpy_paused_1",
    "_honkerpy_throughput",  # 004_throughput_history.sql
    "sqlite_autoindex__honkerpy_throughput_1",
    "_honkerpy_totals",
    "sqlite_autoindex__honkerpy_totals_1",
    "_honkerpy_dead_queue",  # 005_dead_queue_index.sql: an index on _honker_dead
]

AUTOINCREMENT = {"_honker_notifications", "_honker_live", "_honker_stream"}

JOBS_VIEW_COLUMNS = [
    "id", "queue", "payload", "state", "priority", "run_at", "worker_id",
    "claim_expires_at", "attempts", "max_attempts", "last_error", "created_at",
]  # fmt: skip


def _where(sql: str | None) -> str | None:
    if sql is None:
        return None
    m = re.search(r"\bWHERE\b(.*)$", sql, re.IGNORECASE | re.DOTALL)
    return " ".join(m.group(1).split()) if m else None


def _names(db: honker.Database) -> list[str]:
    return [r["name"] for r in db.query("SELECT name FROM sqlite_master ORDER BY rowid")]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_columns(db: honker.Database, table: str) -> None:
    rows = db.query(f"SELECT * FROM pragma_table_info('{table}') ORDER BY cid")
    got = [(r["name"], r["type"], r["notnull"], r["dflt_value"], r["pk"]) for r in rows]
    assert got == TABLES[table]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_indexes(db: honker.Database, table: str) -> None:
    rows = db.query(f"SELECT * FROM pragma_index_list('{table}')")
    got = {(r["name"], r["unique"], r["origin"], r["partial"]) for r in rows}
    want = {
        (name, unique, origin, int(where is not None))
        for name, (t, _, unique, origin, where) in INDEXES.items()
        if t == table
    }
    assert got == want


@pytest.mark.parametrize("index", sorted(INDEXES))
def test_index_keys_and_predicate(db: honker.Database, index: str) -> None:
    table, keys, _, _, where = INDEXES[index]
    rows = db.query(f"SELECT * FROM pragma_index_xinfo('{index}') ORDER BY seqno")
    assert [(r["name"], r["desc"]) for r in rows if r["key"]] == keys
    assert all(r["coll"] == "BINARY" for r in rows)
    (master,) = db.query("SELECT tbl_name, sql FROM sqlite_master WHERE name = ?", [index])
    assert master["tbl_name"] == table
    assert _where(master["sql"]) == where


def test_autoincrement_tables(db: honker.Database) -> None:
    for table in TABLES:
        (row,) = db.query("SELECT sql FROM sqlite_master WHERE name = ?", [table])
        assert ("AUTOINCREMENT" in row["sql"].upper()) == (table in AUTOINCREMENT), table


def test_sqlite_master_order_on_a_fresh_file(db: honker.Database) -> None:
    assert _names(db) == MASTER_ORDER


def test_claim_uses_the_partial_index(db: honker.Database) -> None:
    with db.transaction() as tx:
        plan = tx.query("EXPLAIN QUERY PLAN " + Q["claim"], ["q", "w", 1, 30])
    details = " | ".join(r["detail"] for r in plan)
    assert "USING INDEX _honker_live_claim" in details, details
    assert "SCAN _honker_live" not in details.replace("USING INDEX", "")


# -- the _honker_jobs view ------------------------------------------------------


def test_jobs_view_appears_only_with_a_queue(db: honker.Database) -> None:
    assert "_honker_jobs" not in _names(db)
    q = db.queue("q", max_attempts=1)
    assert "_honker_jobs" in _names(db)
    cols = [r["name"] for r in db.query("SELECT name FROM pragma_table_info('_honker_jobs')")]
    assert cols == JOBS_VIEW_COLUMNS

    live = q.enqueue({"a": 1}, priority=2)
    dead = q.enqueue({"b": 2})
    doomed = q.claim_batch("w", 5)
    next(j for j in doomed if j.id == dead).fail("broken")
    rows = {r["id"]: r for r in db.query("SELECT * FROM _honker_jobs")}
    assert rows[dead]["state"] == "dead"
    assert rows[dead]["last_error"] == "broken"
    assert rows[dead]["worker_id"] is None and rows[dead]["claim_expires_at"] is None
    assert rows[live]["state"] == "processing"
    assert rows[live]["last_error"] is None
    assert rows[live]["worker_id"] == "w"
    assert rows[live]["priority"] == 2


def test_each_new_queue_recreates_the_view(db: honker.Database) -> None:
    db.queue("a")
    with db.transaction() as tx:
        tx.execute("DROP VIEW _honker_jobs")
    db.queue("a")  # memoised: no schema work
    assert "_honker_jobs" not in _names(db)
    db.queue("b")
    assert "_honker_jobs" in _names(db)


def test_queue_construction_drops_legacy_objects(db: honker.Database) -> None:
    with db.transaction() as tx:
        tx.execute("CREATE TABLE _honker_pending (id INTEGER PRIMARY KEY, queue TEXT)")
        tx.execute("CREATE TABLE _honker_processing (id INTEGER PRIMARY KEY, queue TEXT)")
        tx.execute("CREATE TABLE _honker_scheduler_state (name TEXT PRIMARY KEY, last_fire_at)")
        tx.execute("INSERT INTO _honker_pending VALUES (1, 'q')")
        tx.execute("CREATE TABLE legacy (queue TEXT, id INTEGER)")
        for name in (
            "_honker_jobs_claim",
            "_honker_jobs_claim_v2",
            "_honker_pending_claim",
            "_honker_processing_reclaim",
        ):
            tx.execute(f"CREATE INDEX {name} ON legacy(queue, id)")
    db.queue("q")
    names = set(_names(db))
    gone = {
        "_honker_pending", "_honker_processing", "_honker_jobs_claim",
        "_honker_jobs_claim_v2", "_honker_pending_claim", "_honker_processing_reclaim",
    }  # fmt: skip
    assert not names & gone
    assert {"_honker_scheduler_state", "legacy"} <= names


# -- migration ------------------------------------------------------------------


def test_old_scheduler_table_gains_its_new_columns(db_path: str, open_db) -> None:
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        CREATE TABLE _honker_scheduler_tasks (
          name TEXT PRIMARY KEY,
          queue TEXT NOT NULL,
          cron_expr TEXT NOT NULL,
          payload TEXT NOT NULL,
          priority INTEGER NOT NULL DEFAULT 0,
          expires_s INTEGER,
          next_fire_at INTEGER NOT NULL
        );
        INSERT INTO _honker_scheduler_tasks (name, queue, cron_expr, payload, next_fire_at)
        VALUES ('old', 'q', '@every 10s', 'null', 123);
        """
    )
    conn.close()
    db = open_db(db_path)
    rows = db.query("SELECT * FROM pragma_table_info('_honker_scheduler_tasks') ORDER BY cid")
    got = [(r["name"], r["type"], r["notnull"], r["dflt_value"], r["pk"]) for r in rows]
    assert got == TABLES["_honker_scheduler_tasks"]
    assert db.query("SELECT enabled, max_attempts FROM _honker_scheduler_tasks") == [
        {"enabled": 1, "max_attempts": 3}
    ]
    open_db(db_path)  # a second open finds nothing left to migrate


def test_reopening_changes_nothing(db_path: str, open_db) -> None:
    first = open_db(db_path)
    before: list[dict[str, Any]] = first.query("SELECT * FROM sqlite_master ORDER BY rowid")
    open_db(db_path)
    assert first.query("SELECT * FROM sqlite_master ORDER BY rowid") == before
