"""Queues: db.queue() memoisation, enqueue, claiming, Job, per-job operations
and the async claim() iterator (docs/spec/python-api.md §9.1-9.5; docs/spec/engine.md §4.2, §5.1).
Time-boundary and dead-letter behaviour lives in test_jobs_boundaries.py."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from helpers import db_now, sql, within
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import honker

# -- db.queue() -----------------------------------------------------------------


def test_queue_attributes_and_defaults(db: honker.Database) -> None:
    q = db.queue("emails")
    assert isinstance(q, honker.Queue)
    assert (q.db, q.name, q.visibility_timeout_s, q.max_attempts) == (db, "emails", 300, 3)
    q2 = db.queue("other", visibility_timeout_s=12.9, max_attempts="4")
    assert (q2.visibility_timeout_s, q2.max_attempts) == (12, 4)


def test_queue_is_memoised_per_database(db: honker.Database, open_db, db_path: str) -> None:
    q = db.queue("q", visibility_timeout_s=120, max_attempts=7)
    assert db.queue("q") is q, "no options: pure lookup"
    assert db.queue("q", 120, 7) is q
    assert db._queues["q"] is q
    assert open_db(db_path).queue("q") is not q, "the memo is per Database object"
    assert honker.Queue(db, "q") is not q, "direct construction bypasses the memo"


@pytest.mark.parametrize(
    ("kwargs", "got"),
    [
        ({"max_attempts": 7}, "visibility_timeout_s=300, max_attempts=7"),
        ({"visibility_timeout_s": 120}, "visibility_timeout_s=120, max_attempts=3"),
        (
            {"visibility_timeout_s": 300, "max_attempts": 3},
            "visibility_timeout_s=300, max_attempts=3",
        ),
    ],
)
def test_conflicting_options_raise(db: honker.Database, kwargs: dict, got: str) -> None:
    db.queue("q", visibility_timeout_s=120, max_attempts=7)
    with pytest.raises(ValueError) as info:
        db.queue("q", **kwargs)
    assert str(info.value) == (
        "queue 'q' already opened with visibility_timeout_s=120, max_attempts=7; got " + got
    )


def test_explicit_defaults_match_a_default_queue(db: honker.Database) -> None:
    q = db.queue("q")
    assert db.queue("q", visibility_timeout_s=300) is q
    assert db.queue("q", max_attempts=3) is q
    with pytest.raises(ValueError):
        db.queue("q", max_attempts=4)


def test_first_construction_inside_a_transaction(db: honker.Database) -> None:
    with db.transaction():
        with pytest.raises(RuntimeError) as info:
            db.queue("late")
    assert str(info.value) == (
        "cannot construct Queue 'late' while a db.transaction() is open: schema init needs its "
        "own write transaction and would deadlock the single writer. Construct the queue "
        "first, then pass tx= to enqueue."
    )
    assert "late" not in db._queues
    assert db.queue("late").name == "late"


# -- enqueue ----------------------------------------------------------------------


def _row(db: honker.Database, job_id: int) -> dict:
    (row,) = db.query("SELECT * FROM _honker_live WHERE id = ?", [job_id])
    return row


def test_enqueue_stores_json_dumps_text(db: honker.Database) -> None:
    q = db.queue("q")
    ids = [q.enqueue(p) for p in ({"n": 1}, "s", None, (1, 2), {1: "é"}, [])]
    assert ids == sorted(ids)
    texts = [_row(db, i)["payload"] for i in ids]
    assert texts == ['{"n": 1}', '"s"', "null", "[1, 2]", '{"1": "\\u00e9"}', "[]"]
    assert db.query("SELECT id FROM _honker_live WHERE payload = '{\"n\": 1}'") == [{"id": ids[0]}]


def test_enqueue_defaults(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=5)
    before = db_now(db)
    row = _row(db, q.enqueue(1))
    after = db_now(db)
    assert before <= row["run_at"] <= after
    assert before <= row["created_at"] <= after
    assert (row["queue"], row["state"], row["priority"], row["attempts"]) == ("q", "pending", 0, 0)
    assert row["max_attempts"] == 5, "default budget is the queue's"
    assert row["worker_id"] is None and row["claim_expires_at"] is None
    assert row["expires_at"] is None


def test_enqueue_time_options(db: honker.Database) -> None:
    q = db.queue("q")
    before = db_now(db)
    delayed = _row(db, q.enqueue(1, delay=100, run_at=5))
    past = _row(db, q.enqueue(1, run_at=1000.9))
    truncated = _row(db, q.enqueue(1, delay=0.9))
    expiring = _row(db, q.enqueue(1, expires=50.7, priority=-4, max_attempts=9))
    expired = _row(db, q.enqueue(1, expires=-1))
    after = db_now(db)
    assert before + 100 <= delayed["run_at"] <= after + 100, "delay wins over run_at"
    assert past["run_at"] == 1000, "run_at is used as given, even in the past"
    assert before <= truncated["run_at"] <= after, "delay=0.9 truncates to now"
    assert before + 50 <= expiring["expires_at"] <= after + 50
    assert (expiring["priority"], expiring["max_attempts"]) == (-4, 9)
    assert before - 1 <= expired["expires_at"] <= after - 1


def test_enqueue_rejects_unserialisable_payloads_before_writing(db: honker.Database) -> None:
    q = db.queue("q")
    with pytest.raises(TypeError):
        q.enqueue({"x": object()})
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]


def test_enqueue_writes_no_notification_rows(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    job.retry(0, "again")
    assert db.query("SELECT count(*) AS n FROM _honker_notifications") == [{"n": 0}]


def test_enqueue_joins_the_callers_transaction(db: honker.Database) -> None:
    q = db.queue("q")
    with pytest.raises(RuntimeError, match=r"rollback please"):
        with db.transaction() as tx:
            q.enqueue("dropped", tx=tx)
            raise RuntimeError("rollback please")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE orders (id INTEGER)")
        tx.execute("INSERT INTO orders VALUES (1)")
        job_id = q.enqueue("kept", tx=tx)
        assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}], "not committed yet"
    assert [r["payload"] for r in db.query("SELECT payload FROM _honker_live")] == ['"kept"']
    assert _row(db, job_id)["payload"] == '"kept"'


def test_any_object_with_query_works_as_tx(db: honker.Database) -> None:
    q = db.queue("q")

    class Foreign:
        def __init__(self, tx) -> None:
            self.tx, self.calls = tx, []

        def query(self, sql_text, params):
            self.calls.append(sql_text)
            return self.tx.query(sql_text, params)

    with db.transaction() as tx:
        foreign = Foreign(tx)
        job_id = q.enqueue({"n": 1}, tx=foreign, priority=2)
        q.save_result(job_id, "r", tx=foreign)
    assert len(foreign.calls) == 2
    assert _row(db, job_id)["priority"] == 2
    assert q.get_result(job_id) == (True, "r")


def test_job_ids_are_never_reused(db: honker.Database) -> None:
    q = db.queue("q")
    first = q.enqueue(1)
    q.claim_one("w").ack()
    assert q.enqueue(2) > first


# -- claiming ---------------------------------------------------------------------


def test_claim_order_is_priority_then_run_at_then_id(db: honker.Database) -> None:
    q = db.queue("q")
    a = q.enqueue("a", run_at=100)
    b = q.enqueue("b", run_at=50)
    c = q.enqueue("c", run_at=50)
    d = q.enqueue("d", priority=5, run_at=200)
    e = q.enqueue("e", priority=-1, run_at=10)
    order = [q.claim_one("w").id for _ in range(5)]
    assert order == [d, b, c, a, e]
    assert q.claim_one("w") is None


def test_claim_batch_chooses_by_priority(db: honker.Database) -> None:
    q = db.queue("q")
    low = [q.enqueue(i) for i in range(3)]
    high = [q.enqueue(i, priority=1) for i in range(3)]
    assert {j.id for j in q.claim_batch("w", 4)} == set(high) | set(low[:1])
    assert {j.id for j in q.claim_batch("w", 10)} == set(low[1:])


def test_claim_only_sees_its_own_queue_and_due_rows(db: honker.Database) -> None:
    a, b = db.queue("a"), db.queue("b")
    b.enqueue(1)
    a.enqueue(2, delay=3600)
    assert a.claim_one("w") is None
    assert b.claim_one("w").payload == 1


def test_claim_batch_non_positive_n_touches_nothing(db_path: str) -> None:
    db = honker.open(db_path)
    q = db.queue("q")
    q.enqueue(1)
    db.close()  # proves there is no DB access below
    assert q.claim_batch("w", 0) == []
    assert q.claim_batch("w", -3) == []
    assert q.claim_batch("w", "0") == []
    assert q.ack_batch([], "w") == 0


def test_claimed_job_fields(db: honker.Database) -> None:
    q = db.queue("q", visibility_timeout_s=60, max_attempts=4)
    job_id = q.enqueue({"n": 1}, priority=9, run_at=1000, max_attempts=7)
    before = db_now(db)
    job = q.claim_one("worker-1")
    after = db_now(db)
    assert isinstance(job, honker.Job)
    assert (job.id, job.queue, job.queue_name, job.worker_id) == (job_id, q, "q", "worker-1")
    assert job.attempts == 1, "attempts count claims: 1 on first delivery"
    assert before + 60 <= job.claim_expires_at <= after + 60
    assert job.payload == {"n": 1}
    # Not from the row (honker fills defaults; max_attempts is the handle's).
    assert (job.state, job.priority, job.run_at, job.created_at) == ("processing", 0, 0, 0)
    assert job.last_error is None
    assert job.max_attempts == 4
    row = _row(db, job_id)
    assert (row["state"], row["worker_id"], row["attempts"]) == ("processing", "worker-1", 1)
    assert row["claim_expires_at"] == job.claim_expires_at


def test_job_payload_decoding_is_strict(db: honker.Database) -> None:
    q = db.queue("q")
    with db.transaction() as tx:  # rows honker's API would never write
        tx.execute(
            "INSERT INTO _honker_live (queue, payload, priority) VALUES ('q', 'not json', 1)"
        )
        tx.execute("INSERT INTO _honker_live (queue, payload, priority) VALUES ('q', '', 0)")
    bad, empty = q.claim_one("w"), q.claim_one("w")
    with pytest.raises(json.JSONDecodeError):
        _ = bad.payload
    assert empty.payload is None


def test_concurrent_claimers_in_threads_never_share_a_job(db: honker.Database) -> None:
    q = db.queue("q")
    ids = set()
    with db.transaction() as tx:
        for i in range(200):
            ids.add(q.enqueue(i, tx=tx))
    got: list[list[int]] = [[] for _ in range(4)]

    def worker(k: int) -> None:
        while (job := q.claim_one(f"w{k}")) is not None:
            got[k].append(job.id)
            assert job.ack()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    claimed = [i for g in got for i in g]
    assert sorted(claimed) == sorted(ids)


# -- per-job operations ------------------------------------------------------------------


def test_ack(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    assert q.ack(job.id, "someone-else") is False
    assert job.ack() is True
    assert job.ack() is False
    assert q.get_job(job.id) is None


def test_ack_batch(db: honker.Database) -> None:
    q = db.queue("q")
    for i in range(4):
        q.enqueue(i)
    mine = q.claim_batch("me", 3)
    theirs = q.claim_one("them")
    ids = [str(j.id) for j in mine] + [theirs.id, 10_000]
    assert q.ack_batch(ids, "me") == 3, "ids are int()-converted; only our claims count"
    assert [r["id"] for r in db.query("SELECT id FROM _honker_live")] == [theirs.id]


def test_ack_by_any_queue_handle(db: honker.Database) -> None:
    a, b = db.queue("a"), db.queue("b")
    a.enqueue(1)
    job = a.claim_one("w")
    assert b.get_job(job.id)["queue"] == "a"
    assert b.ack(job.id, "w") is True


def test_retry_returns_the_job_to_pending(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue(1)
    job = q.claim_one("w")
    assert q.retry(job.id, "other", 0, "x") is False
    before = db_now(db)
    assert job.retry(delay_s=30, error="later") is True
    after = db_now(db)
    row = _row(db, job.id)
    assert (row["state"], row["worker_id"], row["claim_expires_at"]) == ("pending", None, None)
    assert row["attempts"] == 1, "retry keeps attempts"
    assert before + 30 <= row["run_at"] <= after + 30
    assert job.retry() is False, "no longer ours"
    assert q.claim_one("w") is None, "not due for 30 s"


def test_retry_and_fail_need_a_valid_claim(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue(1)
    assert q.retry(job_id, "w", 0, "") is False
    assert q.fail(job_id, "w", "") is False
    assert _row(db, job_id)["state"] == "pending"


def test_fail_dead_letters_with_the_error(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=10)
    job_id = q.enqueue({"n": 1}, priority=3, run_at=1234)
    job = q.claim_one("w")
    assert job.fail("it broke") is True
    assert job.fail("again") is False
    (dead,) = db.query("SELECT * FROM _honker_dead")
    live_gone = db.query("SELECT count(*) AS n FROM _honker_live")
    assert live_gone == [{"n": 0}]
    assert dead["id"] == job_id
    assert (dead["queue"], dead["payload"], dead["priority"], dead["run_at"]) == (
        "q", '{"n": 1}', 3, 1234,
    )  # fmt: skip
    assert (dead["attempts"], dead["max_attempts"], dead["last_error"]) == (1, 10, "it broke")
    assert dead["died_at"] >= dead["created_at"] > 0


def test_cancel(db: honker.Database) -> None:
    q = db.queue("q")
    pending = q.enqueue(1)
    assert q.cancel(pending) is True
    assert q.cancel(pending) is False
    q.enqueue(2)
    job = q.claim_one("w")
    assert db.queue("other").cancel(job.id) is True, "any worker, any handle"
    assert job.ack() is False
    assert job.heartbeat() is False
    assert db.query("SELECT count(*) AS n FROM _honker_dead") == [{"n": 0}]


def test_get_job(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue({"n": 1}, priority=2, expires=100)
    got = q.get_job(job_id)
    assert set(got) == {
        "id", "queue", "payload", "state", "priority", "run_at", "worker_id",
        "claim_expires_at", "attempts", "max_attempts", "created_at", "expires_at",
    }  # fmt: skip
    assert got["payload"] == '{"n": 1}', "raw JSON text, not decoded"
    assert {k: v for k, v in got.items() if k != "payload"} == {
        k: v for k, v in _row(db, job_id).items() if k != "payload"
    }
    assert q.get_job(10_000) is None
    q.claim_one("w").fail("x")
    assert q.get_job(job_id) is None, "dead rows are not returned"


# -- property: the state machine never loses or duplicates a job -----------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(st.sampled_from(["enqueue", "claim", "ack", "retry", "fail"]), max_size=30))
def test_every_job_is_live_dead_or_acked(db: honker.Database, ops: list[str]) -> None:
    q = db.queue("prop", max_attempts=2)
    sql(db, "DELETE FROM _honker_live")
    sql(db, "DELETE FROM _honker_dead")
    held: list[honker.Job] = []
    enqueued, acked = set(), set()
    for op in ops:
        if op == "enqueue":
            enqueued.add(q.enqueue(len(enqueued)))
        elif op == "claim":
            held.extend(q.claim_batch("w", 1))
        elif held:
            job = held.pop(0)
            if op == "ack":
                assert job.ack()
                acked.add(job.id)
            elif op == "retry":
                assert job.retry(delay_s=0)
            else:
                assert job.fail()
    live = {r["id"] for r in db.query("SELECT id FROM _honker_live")}
    dead = {r["id"] for r in db.query("SELECT id FROM _honker_dead")}
    assert not (live & dead) and not (live & acked) and not (dead & acked)
    assert live | dead | acked == enqueued


# -- the async claim() iterator -----------------------------------------------------------


async def test_claim_iterator_wakes_on_a_commit_from_another_thread(db: honker.Database) -> None:
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    assert jobs.__aiter__() is jobs
    assert hasattr(jobs._updates, "path")
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing; now it waits on the watcher
    assert not task.done()
    t = threading.Thread(target=q.enqueue, args=({"n": 1},))
    t.start()
    job = await within(task, 5)
    t.join()
    assert job.payload == {"n": 1} and job.worker_id == "w"
    assert job.ack()


async def test_claim_iterator_yields_one_job_per_step(db: honker.Database) -> None:
    q = db.queue("q")
    ids = [q.enqueue(i) for i in range(3)]
    jobs = q.claim("w")
    got = [await within(anext(jobs)) for _ in ids]
    assert [j.id for j in got] == ids
    assert all(j.attempts == 1 for j in got)


async def test_claim_iterator_wakes_for_a_delayed_run_at(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("later", delay=3600)
    jobs = q.claim("w", idle_poll_s=None)
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)
    assert not task.done()
    # No commit will wake it after this one: the deadline must.
    sql(db, "UPDATE _honker_live SET run_at = unixepoch() + 1 WHERE id = ?", job_id)
    job = await within(task, 5)
    assert job.id == job_id


async def test_claim_iterator_cancellation(db: honker.Database) -> None:
    jobs = db.queue("q").claim("w")
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
