"""Queue.pause()/resume(): every claim path of this package honours the pause,
in every process; claimed jobs finish; the pause survives a restart."""

from __future__ import annotations

import asyncio

import pytest
from helpers import READY, spawn_child, within

import honker


def test_pause_stops_every_claim_path_and_resume_restarts_them(db: honker.Database) -> None:
    q = db.queue("q")
    ids = [q.enqueue(i) for i in range(4)]
    assert q.paused is False
    assert q.pause() is True
    assert q.pause() is False, "already paused"
    assert q.paused is True and q.stats()["paused"] is True
    assert q.claim_one("w") is None
    assert q.claim_batch("w", 10) == []
    assert q.stats()["pending"] == 4, "nothing was claimed or dead-lettered"
    assert db.queue("other").claim_one("w") is None and db.queue("other").paused is False
    assert q.resume() is True
    assert q.resume() is False
    assert [j.id for j in q.claim_batch("w", 10)] == ids


@pytest.mark.sqlite_only(reason="the honker_* SQL functions are SQLite's (slice 6 on PostgreSQL)")
def test_the_sql_functions_honour_the_pause(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    q.pause()
    with db.transaction() as tx:
        (row,) = tx.query("SELECT honker_claim_batch('q', 'w', 10, 60) AS r")
        assert row["r"] == "[]"
        (row,) = tx.query("SELECT honker_claim_batch('q', 'w', -1, 60) AS r")
        assert row["r"] == "[]"
    assert q.stats()["pending"] == 1, "nothing was claimed or dead-lettered"


def test_claimed_jobs_finish_while_paused(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=3)
    for i in range(3):
        q.enqueue(i)
    a, b, c = q.claim_batch("w", 3)
    q.pause()
    assert a.heartbeat()
    assert a.ack()
    assert b.retry(delay_s=0, error="again")
    assert c.fail("bad")
    assert q.claim_one("w") is None, "the retried job waits for resume"
    q.enqueue("new")
    assert q.stats()["pending"] == 2
    q.resume()
    assert len(q.claim_batch("w", 5)) == 2


def test_the_pause_survives_reopening(db_path: str) -> None:
    db = honker.open(db_path)
    db.queue("q").enqueue(1)
    db.queue("q").pause()
    db.close()
    db = honker.open(db_path)
    try:
        assert db.queue("q").paused is True
        assert db.queue("q").claim_one("w") is None
    finally:
        db.close()


async def test_a_waiting_worker_wakes_on_resume(db: honker.Database) -> None:
    q = db.queue("q")
    q.pause()
    jid = q.enqueue("x")
    it = q.claim("w", idle_poll_s=None)  # no fallback poll: only a commit can wake it
    try:
        task = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0)
        assert not task.done()
        q.resume()
        job = await within(task, 5)
        assert job.id == jid
    finally:
        it.close()


CHILD = f"""
import sys, honker
db = honker.open(sys.argv[1])
q = db.queue("q")
print({READY!r}, flush=True)
for line in sys.stdin:
    job = q.claim_one("child")
    print("claimed" if job else "none", flush=True)
"""


def test_a_pause_in_one_process_stops_claims_in_another(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    with spawn_child(CHILD, db.path) as child:
        q.pause()
        child.send("claim")
        assert child.readline() == "none"
        q.resume()
        child.send("claim")
        assert child.readline() == "claimed"


@pytest.mark.parametrize("paused", [True, False])
def test_pause_joins_the_callers_transaction(db: honker.Database, paused: bool) -> None:
    q = db.queue("q")
    if not paused:
        q.pause()
    with pytest.raises(RuntimeError, match="undo"):
        with db.transaction() as tx:
            if paused:
                assert q.pause(tx=tx)
            else:
                assert q.resume(tx=tx)
            raise RuntimeError("undo")
    assert q.paused is (not paused)
