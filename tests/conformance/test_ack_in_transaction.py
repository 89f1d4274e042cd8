"""``job.ack(tx=tx)`` / ``queue.ack(id, worker, tx=tx)``: the ack commits or
rolls back with the caller's business transaction (honker's exactly-once
pattern; on SQLite the same as ``SELECT honker_ack(?, ?)`` in the
transaction). The process-level proof, workers SIGKILLed mid-job, is
tests/conformance/reliability/test_crash_workers.py (SQLite) and
tests/postgres/test_chaos.py (PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import pytest

import honker


def _effects(db: honker.Database) -> list[dict[str, Any]]:
    return db.query("SELECT job_id FROM effects ORDER BY job_id")


def test_ack_in_a_rolled_back_transaction_keeps_the_claim(db: honker.Database) -> None:
    q = db.queue("jobs", visibility_timeout_s=60)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE effects (job_id bigint PRIMARY KEY)")
    job_id = q.enqueue({"n": 1})
    job = q.claim_one("w")
    assert job is not None and job.id == job_id

    class Abort(Exception):
        pass

    with pytest.raises(Abort), db.transaction() as tx:
        assert job.ack(tx=tx)
        tx.execute("INSERT INTO effects (job_id) VALUES (?)", [job.id])
        raise Abort
    assert _effects(db) == []
    assert q.get_job(job_id) is not None, "the rolled-back ack left the job claimed"

    with db.transaction() as tx:
        assert job.ack(tx=tx)
        tx.execute("INSERT INTO effects (job_id) VALUES (?)", [job.id])
    assert _effects(db) == [{"job_id": job_id}]
    assert q.get_job(job_id) is None


def test_an_ack_after_a_takeover_writes_nothing(db: honker.Database) -> None:
    q = db.queue("jobs", visibility_timeout_s=60)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE effects (job_id bigint PRIMARY KEY)")
    job_id = q.enqueue({"n": 1})
    first = q.claim_one("slow")
    assert first is not None
    # Expire the claim by moving its deadline (no sleeping), and let another take over.
    with db.transaction() as tx:
        tx.execute(
            "UPDATE _honker_live SET claim_expires_at = unixepoch() - 1 WHERE id = ?", [job_id]
        )
    second = q.claim_one("fast")
    assert second is not None and second.id == job_id
    with db.transaction() as tx:
        if first.ack(tx=tx):
            tx.execute("INSERT INTO effects (job_id) VALUES (?)", [first.id])
    assert _effects(db) == []
    with db.transaction() as tx:
        assert second.ack(tx=tx)
        tx.execute("INSERT INTO effects (job_id) VALUES (?)", [second.id])
    assert _effects(db) == [{"job_id": job_id}]
