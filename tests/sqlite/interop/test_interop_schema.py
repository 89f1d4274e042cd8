"""Schema identity with honker's engine, fresh and with older layouts (docs/spec/engine.md §2)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from interop_support import (
    SIDE_OBJECTS,
    NodeSide,
    PySide,
    dump,
    is_side,
    raw,
    raw_one,
    raw_rows,
    schema,
    side_objects,
)


def _master_sql(path: str) -> list[tuple[Any, ...]]:
    """honker's objects (honker-py's side tables left out)."""
    with raw(path) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
        ).fetchall()
    return [r for r in rows if not is_side(r[1], r[2])]


def test_fresh_files_have_identical_schemas(node: Any, open_db: Any, tmp_path: Path) -> None:
    theirs, ours = str(tmp_path / "node.db"), str(tmp_path / "py.db")
    node.open(theirs)
    node.close(theirs)
    open_db(ours).close()

    a, b = schema(theirs), schema(ours)
    assert a == b
    # Beside honker's objects, ours has only its own side tables, after them.
    assert side_objects(theirs) == []
    assert side_objects(ours) == SIDE_OBJECTS
    # The comparison above covered every honker object honker creates.
    names = {k.split(" ", 1)[1] for k in a if k.startswith(("table ", "index "))}
    assert names >= {
        "_honker_notifications",
        "_honker_notifications_recent",
        "_honker_live",
        "_honker_live_claim",
        "_honker_live_pending_deadline",
        "_honker_live_processing_deadline",
        "_honker_dead",
        "_honker_locks",
        "_honker_rate_limits",
        "_honker_scheduler_tasks",
        "_honker_results",
        "_honker_stream",
        "_honker_stream_topic",
        "_honker_stream_consumers",
    }
    assert a["index _honker_live_claim"]["where"] == "state IN('pending','processing')"
    assert a["journal_mode"] == "wal"


def test_each_engine_opens_the_others_file_unchanged(
    node: Any, open_db: Any, tmp_path: Path
) -> None:
    theirs, ours = str(tmp_path / "node.db"), str(tmp_path / "py.db")
    node.open(theirs)
    node.close(theirs)
    open_db(ours).close()
    before_theirs, before_ours = _master_sql(theirs), _master_sql(ours)

    open_db(theirs).close()  # our package on honker's file
    node.open(ours)  # honker on ours
    node.close(ours)

    assert _master_sql(theirs) == before_theirs
    assert _master_sql(ours) == before_ours
    # Opening honker's file adds honker-py's side tables, and nothing else.
    assert side_objects(theirs) == SIDE_OBJECTS


def test_queue_view_created_by_python_is_readable_by_node(
    node: Any, open_db: Any, tmp_path: Path
) -> None:
    path = str(tmp_path / "v.db")
    n = NodeSide(node, path)
    py = PySide(open_db(path))
    py.db.queue("q")  # creates the _honker_jobs view (docs/spec/engine.md §2.10)
    job = n.enqueue("q", {"x": 1})
    claimed = n.claim("q", "w")
    assert n.fail("q", job, "w", "boom") == 1
    n.enqueue("q", {"x": 2})
    rows = node.read(path, "SELECT id, state, last_error FROM _honker_jobs ORDER BY id")
    assert [r["state"] for r in rows] == ["dead", "pending"]
    assert rows[0] == {"id": claimed[0]["id"], "state": "dead", "last_error": "boom"}


# -- older layouts (docs/spec/engine.md §2.10-2.11) ---------------------------------------
OLD_SCHEDULER_TASKS = """
CREATE TABLE _honker_scheduler_tasks (
  name TEXT PRIMARY KEY,
  queue TEXT NOT NULL,
  cron_expr TEXT NOT NULL,
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  expires_s INTEGER,
  next_fire_at INTEGER NOT NULL
)"""

LEGACY_OBJECTS = [
    """CREATE TABLE _honker_pending (
         id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, payload TEXT NOT NULL,
         priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL DEFAULT (unixepoch()),
         attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 3,
         created_at INTEGER NOT NULL DEFAULT (unixepoch()))""",
    "CREATE INDEX _honker_pending_claim ON _honker_pending(queue, priority DESC, run_at, id)",
    """CREATE TABLE _honker_processing (
         id INTEGER PRIMARY KEY, queue TEXT NOT NULL, payload TEXT NOT NULL,
         worker_id TEXT NOT NULL, claim_expires_at INTEGER NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 3)""",
    "CREATE INDEX _honker_processing_reclaim ON _honker_processing(queue, claim_expires_at)",
    "CREATE TABLE _honker_scheduler_state (name TEXT PRIMARY KEY, last_fire_at INTEGER)",
    "INSERT INTO _honker_pending (queue, payload) VALUES ('old', '\"legacy\"')",
    "INSERT INTO _honker_scheduler_state VALUES ('nightly', 1000)",
]


def _legacy_file(path: str, with_enabled: bool = False) -> None:
    """An older honker file: scheduler tasks without the new columns, legacy tables."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(OLD_SCHEDULER_TASKS)
        if with_enabled:
            conn.execute(
                "ALTER TABLE _honker_scheduler_tasks ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1"
            )
        conn.execute(
            "INSERT INTO _honker_scheduler_tasks (name, queue, cron_expr, payload, priority, "
            "expires_s, next_fire_at) VALUES ('old-sched', 'old-q', '@every 60s', '{\"a\":1}', "
            "2, NULL, 1000)"
        )
        for stmt in LEGACY_OBJECTS:
            conn.execute(stmt)
        # An intermediate layout's claim indexes, on the current live table.
        conn.execute(
            "CREATE TABLE _honker_live (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "queue TEXT NOT NULL, payload TEXT NOT NULL, "
            "state TEXT NOT NULL DEFAULT 'pending', priority INTEGER NOT NULL DEFAULT 0, "
            "run_at INTEGER NOT NULL DEFAULT (unixepoch()), worker_id TEXT, "
            "claim_expires_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0, "
            "max_attempts INTEGER NOT NULL DEFAULT 3, "
            "created_at INTEGER NOT NULL DEFAULT (unixepoch()), expires_at INTEGER)"
        )
        conn.execute("CREATE INDEX _honker_jobs_claim ON _honker_live(queue, run_at)")
        conn.execute("CREATE INDEX _honker_jobs_claim_v2 ON _honker_live(queue, priority, run_at)")
        # Wake rows written by engines before 3afea35: tolerated, never written now.
        conn.execute(
            "CREATE TABLE _honker_notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "channel TEXT NOT NULL, payload TEXT NOT NULL, "
            "created_at INTEGER NOT NULL DEFAULT (unixepoch()))"
        )
        conn.execute(
            "INSERT INTO _honker_notifications (channel, payload) VALUES "
            "('honker:old-q', 'new'), ('honker:stream:t', 'new'), ('honker:scheduler', 'wake')"
        )
    finally:
        conn.close()


def _migrated_pair(node: Any, open_db: Any, tmp_path: Path, with_enabled: bool) -> tuple[str, str]:
    theirs, ours = str(tmp_path / "legacy-node.db"), str(tmp_path / "legacy-py.db")
    _legacy_file(theirs, with_enabled)
    shutil.copyfile(theirs, ours)
    node.open(theirs)
    node.close(theirs)
    open_db(ours).close()
    return theirs, ours


def test_older_layout_migrates_identically(node: Any, open_db: Any, tmp_path: Path) -> None:
    for with_enabled in (False, True):
        sub = tmp_path / f"enabled-{with_enabled}"
        sub.mkdir()
        theirs, ours = _migrated_pair(node, open_db, sub, with_enabled)
        assert schema(theirs) == schema(ours)
        cols = [
            r["name"]
            for r in raw_rows(
                ours, "SELECT name FROM pragma_table_info(?)", ("_honker_scheduler_tasks",)
            )
        ]
        assert cols[-2:] == ["enabled", "max_attempts"]
        assert dump(theirs) == dump(ours)
        row = raw_rows(ours, "SELECT enabled, max_attempts FROM _honker_scheduler_tasks")
        assert row == [{"enabled": 1, "max_attempts": 3}]
        # Opening leaves the legacy objects alone; only Queue construction drops them.
        for path in (theirs, ours):
            assert raw_one(path, "SELECT count(*) FROM _honker_pending") == 1
            assert raw_one(path, "SELECT count(*) FROM _honker_scheduler_state") == 1


def test_queue_construction_drops_legacy_objects(node: Any, open_db: Any, tmp_path: Path) -> None:
    theirs, _ = _migrated_pair(node, open_db, tmp_path, with_enabled=False)
    db = open_db(theirs)  # our package on the file honker migrated
    db.queue("old-q")
    names = {r["name"] for r in raw_rows(theirs, "SELECT name FROM sqlite_master")}
    for gone in (
        "_honker_pending",
        "_honker_processing",
        "_honker_pending_claim",
        "_honker_processing_reclaim",
        "_honker_jobs_claim",
        "_honker_jobs_claim_v2",
    ):
        assert gone not in names
    assert "_honker_scheduler_state" in names  # left alone, never read
    assert raw_one(theirs, "SELECT type FROM sqlite_master WHERE name='_honker_jobs'") == "view"


def test_legacy_rows_are_tolerated_by_both(node: Any, open_db: Any, tmp_path: Path) -> None:
    theirs, ours = _migrated_pair(node, open_db, tmp_path, with_enabled=False)
    for writer_path, reader in ((theirs, "python"), (ours, "node")):
        n = NodeSide(node, writer_path)
        py = PySide(open_db(writer_path))
        # The migrated scheduler row (max_attempts defaulted to 3) fires in either engine.
        ticker = py if reader == "python" else n
        fires = ticker.tick(1000)
        assert [(f["name"], f["queue"], f["fire_at"]) for f in fires] == [
            ("old-sched", "old-q", 1000)
        ]
        other = n if ticker is py else py
        jobs = other.claim("old-q", "w")
        assert [j["payload"] for j in jobs] == [{"a": 1}]
        assert raw_one(writer_path, "SELECT max_attempts FROM _honker_live") == 3
        # Legacy wake rows stay; nothing new is written to honker:* channels.
        other.enqueue("old-q", 1)
        other.publish("t", 1)
        assert (
            raw_one(
                writer_path,
                "SELECT count(*) FROM _honker_notifications WHERE channel LIKE 'honker:%'",
            )
            == 3
        )
        node.close(writer_path)
        py.db.close()


def test_python_opens_a_file_honker_is_using(node: Any, open_db: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "live.db")
    n = NodeSide(node, path)
    job = n.enqueue("q", {"hello": "wörld"})
    db = open_db(path)  # honker still has the file open in the node process
    assert db.queue("q").get_job(job)["payload"] == '{"hello":"wörld"}'
