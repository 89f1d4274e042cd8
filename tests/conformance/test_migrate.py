"""``honker migrate``: a SQLite file moved into an empty database of each backend.

The source is always a honker file (the usual move is SQLite to PostgreSQL);
the target is the backend under test. What a move must keep: every job with
its id, state, attempts and timestamps, dead jobs, results, stream events
with their offsets, consumer offsets, schedules, and the id counters.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from migrate_support import DUMPS, dump

import honker
from honker import Scheduler

Run = Callable[..., tuple[int, str, str]]

@pytest.fixture
def source(tmp_path: Path) -> str:
    """A honker file with a job in every state, a result, a stream and a schedule."""
    path = str(tmp_path / "source.db")
    db = honker.open(path)
    q = db.queue("mail")
    for i in range(8):
        q.enqueue({"n": i, "text": "héllo ✓"}, priority=i % 3)
    q.enqueue({"later": True}, delay=3600, expires=7200)
    done = q.claim_one("w1")
    assert done is not None and done.ack()
    q.save_result(done.id, {"sent": True})
    stale = q.claim_one("w-gone")  # a claim whose worker died: expired below
    assert stale is not None
    for _ in range(3):
        dying = q.claim_one("w1")
        assert dying is not None and dying.fail("smtp down")
    with db.transaction() as tx:
        tx.execute(
            "UPDATE _honker_live SET claim_expires_at = unixepoch() - 60 WHERE id = ?", [stale.id]
        )
    orders = db.stream("orders")
    for i in range(4):
        orders.publish({"order": i}, key=f"k{i % 2}")
    orders.save_offset("billing", 2)
    Scheduler(db).add(
        name="nightly", queue="mail", schedule=honker.crontab("0 3 * * *"), payload={"n": 9}
    )
    db.close()
    return path


def test_everything_moves_as_it_is(source: str, db_path: str, run: Run) -> None:
    status, out, err = run("migrate", source, db_path)
    assert (status, err) == (0, ""), err
    assert "every count matches" in out
    src, dst = honker.open(source), honker.open(db_path)
    try:
        before, after = dump(src), dump(dst)
        for table in DUMPS:
            assert after[table] == before[table], table
        assert before["jobs"] and before["dead"] and before["results"] and before["stream"]
        # A new job gets an id the source never handed out (the acked job's included).
        used = max(r[0] for r in before["jobs"] + before["dead"] + before["results"])
        assert dst.queue("mail").enqueue({"new": 1}) > used
    finally:
        src.close()
        dst.close()


def test_the_moved_database_works(source: str, db_path: str) -> None:
    honker.migrate(source, db_path)
    db = honker.open(db_path)
    try:
        q = db.queue("mail")
        done_id = min(r["job_id"] for r in db.query("SELECT job_id FROM _honker_results"))
        assert q.get_result(done_id) == (True, {"sent": True})
        claimed = []
        while (job := q.claim_one("w2")) is not None:  # the expired claim is taken again
            claimed.append(job.payload)
            assert job.ack()
        # 8 enqueued: 1 acked, 3 dead; the 3 pending and the expired claim are taken.
        assert len(claimed) == 4 and {"later": True} not in claimed
        events = db.stream("orders")
        assert events.get_offset("billing") == 2
        assert q.requeue_dead() == 3
    finally:
        db.close()


def test_dry_run_counts_and_writes_nothing(source: str, db_path: str, run: Run) -> None:
    status, out, _ = run("migrate", source, db_path, "--dry-run")
    assert status == 0 and "nothing was written" in out
    assert "live jobs (pending, delayed, processing)" in out
    db = honker.open(db_path)
    try:
        assert all(rows == [] for rows in dump(db).values())
    finally:
        db.close()


def test_a_live_claim_refuses_unless_forced(source: str, db_path: str, run: Run) -> None:
    db = honker.open(source)
    job = db.queue("mail").claim_one("w-busy")
    db.close()
    assert job is not None
    status, out, err = run("migrate", source, db_path)
    assert status == 1 and out == ""
    assert "1 job(s) are claimed by running workers" in err and "--force" in err
    target = honker.open(db_path)
    try:
        assert dump(target)["jobs"] == []
    finally:
        target.close()
    status, out, err = run("migrate", source, db_path, "--force")
    assert status == 0, err
    assert "moved as claimed" in out
    target = honker.open(db_path)
    try:
        moved = target.queue("mail").get_job(job.id)
        assert moved is not None and moved["state"] == "processing"
        assert moved["worker_id"] == "w-busy"
    finally:
        target.close()


def test_a_target_with_data_is_refused_and_unchanged(source: str, db_path: str, run: Run) -> None:
    db = honker.open(db_path)
    db.queue("other").enqueue({"mine": True})
    before = dump(db)
    db.close()
    status, _, err = run("migrate", source, db_path)
    assert status == 1
    assert "already holds honker data (1 live jobs" in err and "empty database" in err
    db = honker.open(db_path)
    try:
        assert dump(db) == before
    finally:
        db.close()


def test_bad_arguments_are_clear_errors(tmp_path: Path, db_path: str, run: Run) -> None:
    missing = str(tmp_path / "nope.db")
    status, _, err = run("migrate", missing, db_path)
    assert status == 1 and "source database file does not exist" in err
    assert not Path(missing).exists()
    status, _, err = run("migrate", db_path, db_path)
    assert status == 1 and "the same database" in err
    with pytest.raises(honker.TransferError, match="batch"):
        honker.migrate(missing, db_path, batch=0)
