"""The claim path stays O(log n): query plans and SQLite VM work per job.

Every statement on the enqueue -> claim -> ack/retry/fail path must be an
index seek or a bounded range (no full scan of _honker_live, no temp B-tree),
and the work SQLite does per claim must not grow with the queue's depth.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

import pytest

import honker
from honker.backends.sqlite.sql import Q

HOT_PATH = [
    "enqueue",
    "claim_top",
    "claim_anything",
    "claim_candidates",
    "claim_level",
    "claim_ids",
    "deadletter_ids",
    "claim_marks",
    "deadletter_since",
    "insert_dead",
    "claim",
    "ack",
    "ack_in_queue",
    "ack_batch",
    "release_claim",
    "retry_select",
    "delete_live",
    "retry_requeue",
    "fail",
    "heartbeat",
    "cancel",
    "get_job",
    "next_claim_at",
    "sweep_expired",
    "result_save",
    "result_get",
    "stream_publish",
    "stream_read_since",
    "notify",
    "notify_since",
]


def _arity(sql: str) -> int:
    return max((int(n) for n in re.findall(r"\?(\d+)", sql)), default=0)


def _plan(db: honker.Database, name: str) -> list[str]:
    sql = Q[name]
    with db.transaction() as tx:
        rows = tx.query("EXPLAIN QUERY PLAN " + sql, [1] * _arity(sql))
    return [r["detail"] for r in rows]


@pytest.mark.parametrize("name", HOT_PATH)
def test_hot_path_statement_never_scans(db: honker.Database, name: str) -> None:
    db.queue("q")
    plan = _plan(db, name)
    for step in plan:
        assert not re.match(r"SCAN _honker_(live|stream|notifications|results)\b", step), plan
        assert "TEMP B-TREE" not in step, plan


def test_unlimited_claim_uses_the_claim_index(db: honker.Database) -> None:
    db.queue("q")
    assert "SEARCH _honker_live USING INDEX _honker_live_claim (queue=?)" in _plan(db, "claim")


def test_dead_letter_branches_are_index_ranges(db: honker.Database) -> None:
    db.queue("q")
    plan = _plan(db, "deadletter_since")
    assert any(
        "_honker_live_processing_deadline (queue=? AND claim_expires_at<?)" in s for s in plan
    )
    assert any("INTEGER PRIMARY KEY (rowid>?)" in s for s in plan)
    assert any(
        "_honker_live_pending_deadline (queue=? AND run_at>? AND run_at<?)" in s for s in plan
    )


def test_claim_candidates_are_a_bounded_range(db: honker.Database) -> None:
    db.queue("q")
    plan = _plan(db, "claim_candidates")
    assert any(
        "_honker_live_claim (queue=? AND priority=? AND run_at>? AND run_at<?)" in s for s in plan
    ), plan
    assert any("_honker_live_claim (queue=? AND priority<?)" in s for s in plan), plan


class _VmCounter:
    """Counts SQLite VM instructions run on a connection (deterministic work)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.n = 0
        self.conn = conn

    def _tick(self) -> int:
        self.n += 1
        return 0

    def __enter__(self) -> _VmCounter:
        self.conn.set_progress_handler(self._tick, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.set_progress_handler(None, 1)


def _fill(path: str, depth: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(depth))
    )
    # Delayed higher-priority rows, processing rows and exhausted rows in the mix.
    conn.executemany(Q["enqueue"], (("q", "1", None, 3600, 5, 3, None) for _ in range(depth // 10)))
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture
def vm_per_cycle(tmp_path) -> Iterator:  # type: ignore[type-arg]
    dbs: list[honker.Database] = []

    def measure(depth: int, batch: int) -> float:
        path = str(tmp_path / f"d{depth}-{batch}.db")
        db = honker.open(path, watcher_backend="polling")
        dbs.append(db)
        q = db.queue("q")
        _fill(path, depth + 60 * batch)
        q.claim_batch("warm", batch)  # the first claim in a connection runs a full pass
        counter = _VmCounter(db._backend._writer)  # type: ignore[arg-type]
        cycles = 50
        with counter:
            for _ in range(cycles):
                jobs = q.claim_batch("w", batch)
                assert len(jobs) == batch
                q.ack_batch([j.id for j in jobs], "w")
        return counter.n / cycles

    yield measure
    for db in dbs:
        db.close()


@pytest.mark.parametrize("batch", [1, 32])
def test_claim_work_is_flat_with_depth(vm_per_cycle, batch: int) -> None:  # type: ignore[no-untyped-def]
    shallow = vm_per_cycle(1_000, batch)
    deep = vm_per_cycle(30_000, batch)
    assert deep <= shallow * 1.25, (shallow, deep)
