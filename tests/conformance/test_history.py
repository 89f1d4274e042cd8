"""Throughput history: completed, failed and retried jobs per queue per minute.

Counts are made by this package's acks, retries, fails and dead-lettering, kept
in memory per process and written at most once a second, inside a write
transaction (so a rolled-back ack is never counted), into honker-py's side
tables. Tests move the flush clock instead of sleeping (``_flush_now``).
"""

from __future__ import annotations

import time

import pytest
from helpers import READY, spawn_child, sql, wait_until

import honker
from honker import _manage


def _flush_now(db: honker.Database) -> None:
    """Make the next commit write the counts (as if a second had passed), and commit."""
    tally = db._backend._tally  # type: ignore[attr-defined]
    tally.flushed_at = 0.0
    db._write(lambda ops: None)


def _minute(q: honker.Queue) -> dict[str, int]:
    """The counts of the last two minutes: a test can cross a minute's
    boundary between its first count and its last."""
    rows = q.throughput(minutes=2)
    return {k: sum(r[k] for r in rows) for k in ("completed", "failed", "retried")}


def test_acks_retries_and_fails_are_counted(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=2)
    for i in range(6):
        q.enqueue(i)
    jobs = q.claim_batch("w", 6)
    assert jobs[0].ack() and jobs[1].ack()
    assert q.ack_batch([jobs[2].id, jobs[3].id], "w") == 2
    assert jobs[4].retry(delay_s=0, error="again")
    assert jobs[5].fail("bad")
    _flush_now(db)
    assert _minute(q) == {"completed": 4, "failed": 1, "retried": 1}
    again = q.claim_one("w")  # the retried job, on its last attempt
    assert again is not None and again.retry(delay_s=0, error="still bad")
    _flush_now(db)
    assert _minute(q) == {"completed": 4, "failed": 2, "retried": 1}, "dead on the last retry"
    assert _manage.throughput_totals(db)["q"] == {"completed": 4, "failed": 2, "retried": 1}


def test_an_ack_through_another_queues_handle_counts_for_the_jobs_queue(
    db: honker.Database,
) -> None:
    """Job-id operations act whatever queue the handle names; the ack is
    counted for the job's own queue (the handle's name is only a hint)."""
    a, b = db.queue("a"), db.queue("b")
    b.enqueue("x")
    job = b.claim_one("w")
    assert job is not None
    assert a.ack(job.id, "w") is True
    assert b.get_job(job.id) is None
    assert a.ack(job.id, "w") is False  # gone: nothing acked, nothing counted twice
    _flush_now(db)
    assert _minute(b) == {"completed": 1, "failed": 0, "retried": 0}
    assert _minute(a) == {"completed": 0, "failed": 0, "retried": 0}


def test_every_way_to_the_dead_letters_counts_as_failed(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    q.enqueue("exhausted")
    job = q.claim_one("w")
    assert job is not None
    sql(db, "UPDATE _honker_live SET claim_expires_at = unixepoch() - 5 WHERE id = ?", job.id)
    q.enqueue("expired", expires=1)
    sql(db, "UPDATE _honker_live SET expires_at = unixepoch() - 1 WHERE payload = '\"expired\"'")
    assert q.claim_one("w") is None  # buries the exhausted job (max attempts exceeded)
    assert q.sweep_expired() == 1
    _flush_now(db)
    assert _minute(q)["failed"] == 2
    assert q.stats()["dead"] == 2


def test_an_ack_in_a_rolled_back_transaction_is_not_counted(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    assert job is not None
    backend = db._backend

    def ack(tx: object) -> int:
        return int(backend.run_in(tx, lambda ops: ops.ack(job.id, "w")))

    with pytest.raises(RuntimeError, match="undo"):
        with db.transaction() as tx:
            assert ack(tx) == 1
            raise RuntimeError("undo")
    _flush_now(db)
    assert _minute(q)["completed"] == 0
    with db.transaction() as tx:  # the same ack, committed
        assert ack(tx) == 1
    _flush_now(db)
    assert _minute(q)["completed"] == 1


@pytest.mark.sqlite_only(reason="the honker_* SQL functions are SQLite's (slice 6 on PostgreSQL)")
def test_a_rolled_back_ack_is_not_counted(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    assert job is not None
    with pytest.raises(RuntimeError, match="undo"):
        with db.transaction() as tx:
            (row,) = tx.query("SELECT honker_ack(?, 'w') AS r", [job.id])
            assert row["r"] == 1
            raise RuntimeError("undo")
    _flush_now(db)
    assert _minute(q)["completed"] == 0
    with db.transaction() as tx:  # the SQL function through our writer is counted
        tx.query("SELECT honker_ack(?, 'w')", [job.id])
    _flush_now(db)
    assert _minute(q)["completed"] == 1


def test_counts_are_written_at_most_once_a_second_and_soon_when_idle(
    db: honker.Database,
) -> None:
    tally = db._backend._tally  # type: ignore[attr-defined]
    q = db.queue("q")
    for i in range(3):
        q.enqueue(i)
    first = q.claim_one("w")
    assert first is not None and first.ack()  # the first flush is due at once
    assert _minute(q)["completed"] == 1
    tally.flushed_at = time.monotonic() + 3600  # as if it had just flushed
    second = q.claim_one("w")
    assert second is not None and second.ack()  # within the second: kept in memory
    assert _minute(q)["completed"] == 1 and tally.committed
    tally.flushed_at = time.monotonic() - 1  # a second later, and no further write comes:
    wait_until(lambda: _minute(q)["completed"] == 2, timeout=5)  # the idle flush writes it
    assert not tally.committed


def test_buckets_are_minutes_of_the_database_clock(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    assert job is not None and job.ack()
    _flush_now(db)
    series = q.throughput(minutes=5)
    (row,) = db.query("SELECT minute, unixepoch() / 60 * 60 AS now FROM _honkerpy_throughput")
    assert row["minute"] in (row["now"], row["now"] - 60), "a minute of unixepoch()"
    last = series[-1]["minute"]
    assert last in (row["now"], row["now"] - 60)
    assert [r["minute"] for r in series] == [last - 60 * k for k in (4, 3, 2, 1, 0)]
    assert sum(r["completed"] for r in series) == 1
    with pytest.raises(ValueError, match="minutes must be between"):
        q.throughput(minutes=0)


def test_history_false_counts_nothing(db_path: str) -> None:
    db = honker.open(db_path, history=False)
    try:
        q = db.queue("q")
        q.enqueue(1)
        job = q.claim_one("w")
        assert job is not None and job.ack()
        assert _minute(q)["completed"] == 0
        assert db.query("SELECT count(*) AS n FROM _honkerpy_throughput")[0]["n"] == 0
    finally:
        db.close()


CHILD = f"""
import sys, honker
db = honker.open(sys.argv[1])
q = db.queue("q")
print({READY!r}, flush=True)
for line in sys.stdin:
    job = q.claim_one("child")
    job.ack()
    print("acked", flush=True)
db.close()
"""


def test_counts_from_another_process_land_in_the_same_table(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    with spawn_child(CHILD, db.path) as child:
        child.send("ack")
        assert child.readline() == "acked"
        child.proc.stdin.close()  # type: ignore[union-attr]  # the child closes, flushing
        assert child.wait() == 0
    assert _minute(q)["completed"] == 1
