"""A write that is one statement runs in autocommit; anything more in BEGIN IMMEDIATE.

``ops.WriteOps``: an enqueue, an ack, a heartbeat and a claim served by the
top priority level are one statement each, committed on their own (in WAL
mode the statement takes the write lock at its start, as BEGIN IMMEDIATE
does); a claim that must bury exhausted rows, walk lower levels or make a
full dead-letter pass opens a transaction for the rest. Traced with the
writer connection's statement trace (what SQLite was asked to run).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import honker


@pytest.fixture
def db(tmp_path: Path) -> Iterator[honker.Database]:
    d = honker.open(str(tmp_path / "t.db"))
    yield d
    d.close()


@pytest.fixture
def trace(db: honker.Database) -> Iterator[list[str]]:
    """The first word of every statement the writer runs from now on."""
    seen: list[str] = []
    writer = db._backend._writer  # type: ignore[attr-defined]
    writer.set_trace_callback(lambda sql: seen.append(sql.split()[0].upper()))
    yield seen
    writer.set_trace_callback(None)


def test_enqueue_claim_ack_heartbeat_are_one_statement_each(
    db: honker.Database, trace: list[str]
) -> None:
    q = db.queue("q")
    q.enqueue(0)
    q.claim_one("w").ack()  # type: ignore[union-attr]  # the first claim: a full pass
    for i in range(3):
        q.enqueue(i)
    trace.clear()
    q.enqueue(9)
    assert trace == ["INSERT"]
    trace.clear()
    job = q.claim_one("w")
    assert job is not None and job.payload == 0
    assert trace == ["UPDATE"]
    trace.clear()
    assert job.heartbeat(60)
    assert trace == ["UPDATE"]
    trace.clear()
    assert job.ack()
    assert trace == ["DELETE"]
    trace.clear()
    jobs = q.claim_batch("w", 2)
    assert [j.payload for j in jobs] == [1, 2]
    assert trace == ["UPDATE"]
    trace.clear()
    assert q.ack_batch([j.id for j in jobs], "w") == 2
    assert trace == ["DELETE"]


def test_a_claim_that_must_bury_finishes_in_a_transaction(
    db: honker.Database, trace: list[str], tmp_path: Path
) -> None:
    q = db.queue("q")
    q.enqueue("first")
    assert q.claim_one("w") is not None  # the full pass is done: later claims are quick
    exhausted = q.enqueue("dead", max_attempts=0)  # past its last attempt from the start
    q.enqueue("next")
    trace.clear()
    job = q.claim_one("w")
    assert job is not None and job.payload == "next"
    assert trace[0] == "UPDATE" and "BEGIN" in trace and trace[-1] == "COMMIT"
    assert [r["id"] for r in q.jobs(state="dead")] == [exhausted]


def test_a_failed_statement_leaves_no_transaction_open(
    db: honker.Database, tmp_path: Path
) -> None:
    q = db.queue("q")
    q.enqueue(1)
    writer = db._backend._writer  # type: ignore[attr-defined]
    with pytest.raises(honker.HonkerError):
        db._write(lambda ops: ops.raw.execute("INSERT INTO no_such_table VALUES (1)"))
    assert not writer.in_transaction
    other = sqlite3.connect(str(tmp_path / "t.db"), timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock is free
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert q.claim_one("w") is not None


def test_acks_in_autocommit_reach_the_throughput_history(db: honker.Database) -> None:
    q = db.queue("q")
    for i in range(5):
        q.enqueue(i)
    for _ in range(5):
        q.claim_one("w").ack()  # type: ignore[union-attr]
    db._write(lambda ops: None)  # the history is due at most every second: force a flush
    db._backend._tally.flushed_at = float("-inf")  # type: ignore[attr-defined]
    db._write(lambda ops: None)
    assert sum(m["completed"] for m in q.throughput(minutes=2)) == 5


def test_rows_claimed_in_autocommit_are_returned_when_the_transaction_cannot_begin(
    db: honker.Database,
) -> None:
    """The claim's first statement committed rows of ours; if the transaction
    for the rest cannot begin (the write lock stayed busy), those rows are
    returned rather than stranded until their visibility timeout."""
    from honker.backends.sqlite.engine import queue as jobs

    q = db.queue("q")
    q.enqueue("warm")
    assert q.claim_one("w") is not None  # the full pass is done
    top = q.enqueue("top", priority=5)
    q.enqueue("low", priority=0)

    def busy() -> sqlite3.Connection:
        raise sqlite3.OperationalError("database is locked")

    writer = db._backend._writer  # type: ignore[attr-defined]
    marks = db._backend._marks  # type: ignore[attr-defined]
    rows = db._write(lambda ops: jobs.claim_batch(ops.raw, "q", "w", 2, 60, marks, busy))
    assert [r[0] for r in rows] == [top]  # the top level's row; the lower level waits
    assert not writer.in_transaction
    with pytest.raises(honker.HonkerError, match="locked"):  # nothing claimed: the error stands
        db._write(lambda ops: jobs.claim_batch(ops.raw, "none", "w", 1, 60, marks, busy))


def test_an_empty_claim_needs_no_transaction(db: honker.Database, trace: list[str]) -> None:
    q = db.queue("q")
    q.enqueue("warm")
    q.claim_one("w").ack()  # type: ignore[union-attr]  # the full pass is done
    trace.clear()
    assert q.claim_one("w") is None
    assert trace == ["UPDATE", "SELECT"]  # claim_top, then claim_anything: nothing due


def test_a_due_row_below_a_delayed_top_level_is_claimed(
    db: honker.Database, trace: list[str]
) -> None:
    """claim_top looks at the top priority level only (here: a delayed row);
    claim_anything sees the due row below, and the claim walks down to it."""
    q = db.queue("q")
    q.enqueue("warm")
    q.claim_one("w").ack()  # type: ignore[union-attr]
    q.enqueue("later", priority=9, delay=3600)
    low = q.enqueue("now", priority=1)
    trace.clear()
    job = q.claim_one("w")
    assert job is not None and job.id == low
    assert trace[:3] == ["UPDATE", "SELECT", "BEGIN"] and trace[-1] == "COMMIT"
