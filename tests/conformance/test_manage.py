"""Job management: stats, jobs, requeue_dead, delete_dead, run_now, cancel_where."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import sql

import honker


def _dead(db: honker.Database, q: honker.Queue, *payloads: Any) -> list[int]:
    """Enqueue ``payloads`` and fail each one: they end in the dead table."""
    ids = [q.enqueue(p) for p in payloads]
    for _ in ids:
        job = q.claim_one("w")
        assert job is not None
        assert job.fail("boom")
    return ids


def test_stats_counts_each_state_and_the_oldest_due_age(db: honker.Database) -> None:
    q = db.queue("q")
    assert q.stats() == {
        "pending": 0, "delayed": 0, "processing": 0, "dead": 0, "oldest_due_age_s": None,
        "paused": False,
    }  # fmt: skip
    first = q.enqueue(1)
    q.enqueue(2)
    q.enqueue(3, delay=3600)
    _dead(db, q, 4)  # claims job 1 (the oldest due) and fails it
    q.enqueue(5)
    assert q.claim_one("w") is not None  # claims job 2
    sql(db, "UPDATE _honker_live SET run_at = unixepoch() - 90 WHERE state = 'pending' "
            "AND run_at <= unixepoch()")  # fmt: skip
    stats = q.stats()
    assert stats == {
        "pending": 2, "delayed": 1, "processing": 1, "dead": 1, "oldest_due_age_s": 90,
        "paused": False,
    }, stats  # fmt: skip
    assert first  # ids are positive
    assert db.queue("other").stats()["pending"] == 0, "per queue"


def test_jobs_lists_every_state_with_decoded_payloads(db: honker.Database) -> None:
    q = db.queue("q")
    (dead,) = _dead(db, q, {"n": "dead"})
    pending = q.enqueue({"n": "pending"})
    delayed = q.enqueue({"n": "delayed"}, delay=600)
    processing = q.enqueue({"n": "processing"})
    sql(db, "UPDATE _honker_live SET priority = -1 WHERE id = ?", pending)  # claim the other
    job = q.claim_one("w")
    assert job is not None and job.id == processing
    rows = q.jobs()
    assert [(r["id"], r["state"]) for r in rows] == [
        (dead, "dead"),
        (pending, "pending"),
        (delayed, "delayed"),
        (processing, "processing"),
    ]
    assert [r["payload"]["n"] for r in rows] == ["dead", "pending", "delayed", "processing"]
    states = ("pending", "delayed", "processing", "dead")
    by_state = {state: [r["id"] for r in q.jobs(state=state)] for state in states}
    assert by_state == {
        "pending": [pending],
        "delayed": [delayed],
        "processing": [processing],
        "dead": [dead],
    }
    (d,) = q.jobs(state="dead")
    assert d["last_error"] == "boom" and d["died_at"] > 0 and d["attempts"] == 1
    (p,) = q.jobs(state="processing")
    assert p["worker_id"] == "w" and p["claim_expires_at"] > 0 and p["last_error"] is None


def test_jobs_pages_past_ten_thousand_jobs_by_keyset(db: honker.Database) -> None:
    q = db.queue("big")
    with db.transaction() as tx:
        for i in range(10_500):
            q.enqueue({"i": i, "even": i % 2 == 0}, tx=tx)
    seen: list[int] = []
    after = None
    while True:
        page = q.jobs(state="pending", limit=1000, after_id=after)
        if not page:
            break
        seen += [r["payload"]["i"] for r in page]
        after = page[-1]["id"]
    assert seen == list(range(10_500))
    evens = q.jobs(where={"$.even": True}, limit=100_000)
    assert len(evens) == 5250 and all(r["payload"]["i"] % 2 == 0 for r in evens)


def test_where_matches_json_paths_anded(db: honker.Database) -> None:
    q = db.queue("q")
    a = q.enqueue({"user_id": 42, "kind": "mail", "deep": {"x": "y"}})
    b = q.enqueue({"user_id": 42, "kind": "sms"})
    q.enqueue({"user_id": 7, "kind": "mail"})
    q.enqueue("not an object")

    def ids(where: dict[str, Any]) -> list[int]:
        return [r["id"] for r in q.jobs(where=where)]

    assert ids({"$.user_id": 42}) == [a, b]
    assert ids({"$.user_id": 42, "$.kind": "mail"}) == [a]
    assert ids({"$.deep.x": "y"}) == [a]
    assert ids({"$.user_id": "42"}) == [], "text does not equal an integer"
    assert ids({"$.nope": 1}) == []


def test_where_follows_sqlites_json_comparison(db: honker.Database) -> None:
    """The same matches on both backends (PostgreSQL compares jsonb values
    the way SQLite's JSON comparison does; docs/postgres.md)."""
    q = db.queue("q")
    a = q.enqueue({"flag": True, "n": 1.0, "s": "1", "none": None, "list": [5, 6], "o": {"k": 1}})
    b = q.enqueue({"flag": 1, "n": 1, "list": []})
    c = q.enqueue("a JSON string")

    def ids(where: dict[str, Any]) -> list[int]:
        return [r["id"] for r in q.jobs(where=where)]

    assert ids({"$.flag": True}) == [a, b], "a JSON true is the number 1"
    assert ids({"$.flag": 1}) == [a, b]
    assert ids({"$.flag": False}) == []
    assert ids({"$.n": 1}) == [a, b], "numbers compare by value"
    assert ids({"$.s": 1}) == [] and ids({"$.s": "1"}) == [a]
    assert ids({"$.none": None}) == [a, b, c], "null: a JSON null or a missing path"
    assert ids({"$.list[1]": 6}) == [a]
    assert ids({"$.list.x": None}) == [a, b, c], "a path does not look into arrays"
    assert ids({"$.o.k": 1, "$.n": 1}) == [a]
    assert q.cancel_where({"$.s": "1"}) == 1 and q.get_job(a) is None


@pytest.mark.parametrize(
    ("where", "error"),
    [
        ({}, honker.ParameterError),
        ([("$.a", 1)], honker.ParameterError),
        ({"a": 1}, honker.ConfigError),
        ({"$.a": [1]}, honker.ParameterError),
        ({"$.a": float("nan")}, honker.ConfigError),
    ],
)
def test_bad_where_is_a_named_error(db: honker.Database, where: Any, error: type) -> None:
    q = db.queue("q")
    q.enqueue({"a": 1})
    with pytest.raises(error, match="where"):
        q.jobs(where=where)
    with pytest.raises(error, match="where"):
        q.cancel_where(where)
    assert q.stats()["pending"] == 1


def test_bad_state_and_limit(db: honker.Database) -> None:
    q = db.queue("q")
    with pytest.raises(ValueError, match="state must be one of"):
        q.jobs(state="done")
    with pytest.raises(ValueError, match="limit must be positive"):
        q.jobs(limit=0)


def test_requeue_dead_keeps_the_id_and_resets_attempts(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=4)
    (jid,) = _dead(db, q, {"n": 1})
    sql(db, "UPDATE _honker_dead SET priority = 5, created_at = 1000 WHERE id = ?", jid)
    assert q.requeue_dead([jid]) == 1
    assert q.jobs(state="dead") == []
    row = q.get_job(jid)
    assert row is not None
    assert (row["state"], row["attempts"], row["max_attempts"], row["priority"]) == (
        "pending", 0, 4, 5
    )  # fmt: skip
    assert row["created_at"] == 1000 and row["worker_id"] is None
    job = q.claim_one("w")
    assert job is not None and job.id == jid and job.payload == {"n": 1}
    assert job.ack()


def test_requeue_dead_by_ids_where_limit_or_all(db: honker.Database) -> None:
    q = db.queue("q")
    ids = _dead(db, q, {"u": 1}, {"u": 2}, {"u": 1}, {"u": 3}, {"u": 1})
    other = db.queue("other")
    _dead(db, other, {"u": 1})
    assert q.requeue_dead([ids[3], 999_999]) == 1, "unknown ids are ignored"
    assert q.requeue_dead(where={"$.u": 1}, limit=2) == 2
    assert [r["id"] for r in q.jobs(state="dead")] == [ids[1], ids[4]]
    assert q.requeue_dead() == 2, "no arguments: every dead job of the queue"
    assert q.stats()["dead"] == 0 and other.stats()["dead"] == 1
    assert q.requeue_dead() == 0


def test_delete_dead_by_ids_where_and_age(db: honker.Database) -> None:
    q = db.queue("q")
    ids = _dead(db, q, {"u": 1}, {"u": 2}, {"u": 3})
    sql(db, "UPDATE _honker_dead SET died_at = unixepoch() - 7200 WHERE id = ?", ids[0])
    assert q.delete_dead(older_than_s=3600) == 1
    assert q.delete_dead(where={"$.u": 3}) == 1
    assert q.delete_dead([ids[1]]) == 1
    assert q.stats()["dead"] == 0
    assert q.delete_dead() == 0


def test_run_now_makes_a_delayed_job_due(db: honker.Database) -> None:
    q = db.queue("q")
    delayed = q.enqueue(1, delay=3600)
    due = q.enqueue(2)
    assert q.claim_one("w").id == due  # type: ignore[union-attr]
    assert q.run_now(delayed) is True
    assert q.run_now(delayed) is False, "already due"
    assert q.run_now(due) is False, "claimed, not delayed"
    assert db.queue("other").run_now(delayed) is False, "another queue's job"
    assert q.claim_one("w").id == delayed  # type: ignore[union-attr]


def test_cancel_where_cancels_pending_and_leaves_claimed_jobs(db: honker.Database) -> None:
    q = db.queue("q")
    claimed = q.enqueue({"order": 9})
    job = q.claim_one("w")
    assert job is not None and job.id == claimed
    due = q.enqueue({"order": 9})
    later = q.enqueue({"order": 9}, delay=600)
    keep = q.enqueue({"order": 10})
    assert q.cancel_where({"$.order": 9}) == 2
    assert [r["id"] for r in q.jobs()] == [claimed, keep]
    assert q.get_job(due) is None and q.get_job(later) is None
    assert job.ack(), "the claimed job finishes normally"


def test_each_call_joins_the_callers_transaction(db: honker.Database) -> None:
    q = db.queue("q")
    ids = _dead(db, q, 1, 2)
    with pytest.raises(RuntimeError, match="rollback"):
        with db.transaction() as tx:
            assert q.requeue_dead(tx=tx) == 2
            assert q.stats(tx=tx)["pending"] == 2
            assert [r["id"] for r in q.jobs(tx=tx)] == ids
            raise RuntimeError("rollback")
    assert q.stats()["dead"] == 2, "rolled back with the transaction"
    with db.transaction() as tx:
        assert q.delete_dead([ids[0]], tx=tx) == 1
        assert q.cancel_where({"$.x": 1}, tx=tx) == 0
    assert q.stats()["dead"] == 1
    with pytest.raises(TypeError, match="tx must be"):
        q.stats(tx=object())
