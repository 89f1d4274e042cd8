"""Time boundaries, reclaim, dead-letter paths, heartbeat and _next_claim_at
(docs/spec/python-api.md §9.3-9.5, §11, sharp edges 9-13; docs/spec/engine.md §4.2, §5.1, §10.3).

Time never passes by sleeping here: rows' timestamps are moved with SQL
UPDATEs relative to ``unixepoch()``. Assertions about the exact boundary
second run inside :func:`helpers.in_one_second`.
"""

from __future__ import annotations

import pytest
from helpers import db_now, in_one_second, sql

import honker


@pytest.fixture
def q(db: honker.Database) -> honker.Queue:
    return db.queue("q", visibility_timeout_s=60)


def _row(db: honker.Database, table: str, job_id: int) -> dict | None:
    rows = db.query(f"SELECT * FROM {table} WHERE id = ?", [job_id])
    return rows[0] if rows else None


def _set(db: honker.Database, job_id: int, assignments: str) -> None:
    sql(db, f"UPDATE _honker_live SET {assignments} WHERE id = ?", job_id)


# -- the visibility timeout boundary ------------------------------------------------------


def test_claim_valid_at_its_expiry_second(db: honker.Database, q: honker.Queue) -> None:
    def attempt(now: int) -> None:
        sql(db, "DELETE FROM _honker_live")  # a straddling earlier try's job
        job_id = q.enqueue(now)
        job = q.claim_one("holder")
        _set(db, job_id, "claim_expires_at = unixepoch()")
        assert q.claim_one("thief") is None, "claim_expires_at == now: not reclaimable"
        assert job.heartbeat(extend_s=0) is True, "still ours"
        assert job.ack() is True

    in_one_second(db, attempt)


def test_claim_reclaimable_after_its_expiry_second(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    old = q.claim_one("holder")
    _set(db, job_id, "claim_expires_at = unixepoch() - 1")
    new = q.claim_one("thief")
    assert new is not None and new.id == job_id
    assert new.attempts == 2, "a reclaim is another attempt"
    for call in (old.ack, old.heartbeat, old.retry, old.fail):
        assert call() is False, "the old holder lost it"
    assert new.ack() is True


def test_ack_fails_once_the_claim_expired(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    job = q.claim_one("w")
    _set(db, job_id, "claim_expires_at = unixepoch() - 1")
    assert job.ack() is False
    assert q.ack_batch([job_id], "w") == 0
    assert job.retry() is False
    assert job.fail() is False
    assert _row(db, "_honker_live", job_id) is not None


# -- dead-letter paths ------------------------------------------------------------------------


def _dead(db: honker.Database, job_id: int) -> dict:
    row = _row(db, "_honker_dead", job_id)
    assert row is not None, f"job {job_id} is not dead"
    assert _row(db, "_honker_live", job_id) is None
    return row


def test_retry_on_the_last_attempt_dead_letters(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=2)
    job_id = q.enqueue({"n": 1}, priority=4)
    assert q.claim_one("w").retry(delay_s=0, error="one") is True
    job = q.claim_one("w")
    assert job.attempts == 2
    assert job.retry(delay_s=0, error="two") is True, "True when it dead-letters too"
    dead = _dead(db, job_id)
    assert (dead["attempts"], dead["max_attempts"], dead["last_error"]) == (2, 2, "two")
    assert (dead["payload"], dead["priority"]) == ('{"n": 1}', 4)


def test_row_budget_not_handle_budget_decides(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=10)
    job_id = q.enqueue(1, max_attempts=1)
    job = q.claim_one("w")
    assert job.max_attempts == 10, "the Job shows the handle's value"
    assert job.retry(0, "last") is True
    assert _dead(db, job_id)["last_error"] == "last"


def test_exhausted_expired_claim_is_dead_lettered_by_the_next_claim(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    job_id = q.enqueue(1)
    q.claim_one("crashed")
    _set(db, job_id, "claim_expires_at = unixepoch() - 1")
    assert db.queue("other").claim_one("w") is None
    assert _row(db, "_honker_live", job_id) is not None, "lazy: only a claim on *its* queue"
    assert q.claim_one("w") is None
    dead = _dead(db, job_id)
    assert (dead["last_error"], dead["attempts"], dead["max_attempts"]) == (
        "max attempts exceeded", 1, 1,
    )  # fmt: skip


def test_exhausted_valid_claim_can_still_ack(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    q.enqueue(1)
    job = q.claim_one("w")
    assert q.claim_one("w2") is None
    assert job.ack() is True
    assert db.query("SELECT count(*) AS n FROM _honker_dead") == [{"n": 0}]


def test_max_attempts_zero_never_runs(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue(1, max_attempts=0)
    later = q.enqueue(2, max_attempts=0, delay=3600)
    assert q.claim_one("w") is None
    dead = _dead(db, job_id)
    assert (dead["last_error"], dead["attempts"]) == ("max attempts exceeded", 0)
    assert _row(db, "_honker_live", later) is not None, "not due yet: left alone"
    _set(db, later, "run_at = unixepoch()")
    assert q.claim_one("w") is None
    assert _dead(db, later)["last_error"] == "max attempts exceeded"


def test_hand_edited_exhausted_pending_row(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=3)
    job_id = q.enqueue(1)
    assert q.claim_one("w") is not None  # a claim pass has seen this row
    _set(db, job_id, "state = 'pending', worker_id = NULL, claim_expires_at = NULL, attempts = 3")
    assert q.claim_one("w") is None
    assert _dead(db, job_id)["last_error"] == "max attempts exceeded"


def test_row_exhausted_by_another_connection(db: honker.Database, db_path: str, open_db) -> None:
    q = db.queue("q", max_attempts=3)
    job_id = q.enqueue(1)
    assert q.claim_one("w") is not None
    assert q.claim_one("w") is None  # passes have run since the row was inserted
    sql(
        open_db(db_path),
        "UPDATE _honker_live SET state = 'pending', worker_id = NULL,"
        " claim_expires_at = NULL, max_attempts = 1 WHERE id = ?",
        job_id,
    )
    assert q.claim_one("w") is None
    assert _dead(db, job_id)["last_error"] == "max attempts exceeded"


def test_expired_pending_rows(db: honker.Database, q: honker.Queue) -> None:
    expired = q.enqueue("old", expires=-1)
    exact = q.enqueue("now", expires=100)
    fresh = q.enqueue("new", expires=100)
    _set(db, exact, "expires_at = unixepoch()")
    other = db.queue("other").enqueue("x", expires=-1)
    assert [j.id for j in q.claim_batch("w", 10)] == [fresh], "expired rows are never claimed"
    assert _row(db, "_honker_live", expired) is not None, "claim does not clean them up"
    assert q.sweep_expired() == 2
    for job_id in (expired, exact):
        assert _dead(db, job_id)["last_error"] == "expired"
    assert _row(db, "_honker_live", other) is not None, "sweep is per queue"
    assert q.sweep_expired() == 0


def test_expired_processing_row_stays_forever(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    job_id = q.enqueue(1, expires=100)
    q.claim_one("crashed")
    _set(db, job_id, "expires_at = unixepoch() - 1, claim_expires_at = unixepoch() - 1")
    assert q.claim_one("w") is None, "expired: not reclaimable"
    assert q.sweep_expired() == 0, "sweep moves pending rows only"
    assert q._next_claim_at() == 0
    row = _row(db, "_honker_live", job_id)
    assert row is not None and row["state"] == "processing"
    assert db.query("SELECT count(*) AS n FROM _honker_dead") == [{"n": 0}]
    assert q.cancel(job_id) is True


# -- heartbeat ----------------------------------------------------------------------------------


def test_heartbeat_resets_the_deadline_from_now(db: honker.Database, q: honker.Queue) -> None:
    q.enqueue(1)
    job = q.claim_one("w")
    before = db_now(db)
    assert job.heartbeat(extend_s=5) is True, "can shorten the claim"
    after = db_now(db)
    assert before + 5 <= q.get_job(job.id)["claim_expires_at"] <= after + 5
    before = db_now(db)
    assert job.heartbeat() is True, "default: the queue's visibility timeout"
    after = db_now(db)
    assert before + 60 <= q.get_job(job.id)["claim_expires_at"] <= after + 60
    assert q.heartbeat(job.id, "someone-else", 100) is False


def test_late_heartbeat_cannot_resurrect_a_claim(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    job = q.claim_one("w")
    _set(db, job_id, "claim_expires_at = unixepoch() - 1")
    assert job.heartbeat(extend_s=100) is False
    assert q.claim_one("thief").id == job_id


def test_negative_heartbeat_releases_the_claim(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    job = q.claim_one("w")
    assert job.heartbeat(extend_s=-5) is True
    assert q.claim_one("thief").id == job_id


def test_heartbeat_needs_processing_state(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    q.claim_one("w")
    _set(db, job_id, "state = 'pending'")
    assert q.heartbeat(job_id, "w", 10) is False


# -- _next_claim_at ---------------------------------------------------------------------------


def test_next_claim_at(db: honker.Database, q: honker.Queue) -> None:
    assert q._next_claim_at() == 0, "empty queue"
    q.enqueue("due")
    assert q._next_claim_at() == 0, "claimable now contributes nothing"
    q.claim_one("w")

    def claimed_deadline(now: int) -> None:
        sql(db, "UPDATE _honker_live SET claim_expires_at = unixepoch() + 50")
        assert q._next_claim_at() == now + 51, "claim_expires_at + 1: reclaim is strict"

    in_one_second(db, claimed_deadline)

    def pending_deadline(now: int) -> None:
        job_id = q.enqueue("later", delay=20)
        try:
            assert q._next_claim_at() == now + 20, "the nearer of the two"
        finally:
            q.cancel(job_id)

    in_one_second(db, pending_deadline)


def test_next_claim_at_ignores_exhausted_expired_and_other_queues(
    db: honker.Database, q: honker.Queue
) -> None:
    q.enqueue("exhausted", delay=10, max_attempts=0)
    db.queue("other").enqueue("elsewhere", delay=10)
    expired = q.enqueue("expired", delay=10, expires=100)
    _set(db, expired, "expires_at = unixepoch()")
    assert q._next_claim_at() == 0
    assert db.queue("other")._next_claim_at() > 0
