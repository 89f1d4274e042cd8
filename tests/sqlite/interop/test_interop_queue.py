"""Jobs across engines: enqueued by one, claimed / acked / retried / failed by the other.

Every test runs in both directions (``pair``: honker's engine in the node
child, then this package in the pytest process, and the reverse). Time is
moved with plain SQL on the shared file, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from helpers import within
from interop_support import NodeSide, PySide, now, raw, raw_exec, raw_one, raw_rows

import honker

Pair = tuple[Any, Any]

PAYLOADS = [
    {"to": "alice@example.com", "n": 1},
    {"s": "héllo ✓ 😀", "ctl": "line\nbreak\ttab\x01"},
    [1, 2.5, None, True, "x"],
    "just a string",
    None,
    12345678901234567,
]


def _dead(path: str) -> list[dict[str, Any]]:
    return raw_rows(
        path,
        "SELECT id, queue, payload, attempts, max_attempts, last_error, priority "
        "FROM _honker_dead ORDER BY id",
    )


def test_priority_order_payloads_and_ack(pair: Pair) -> None:
    producer, consumer = pair
    prios = [0, 5, -1, 5, 10, 0]
    ids = [
        producer.enqueue("emails", p, priority=pr) for p, pr in zip(PAYLOADS, prios, strict=True)
    ]
    expected = sorted(zip(prios, ids, PAYLOADS, strict=True), key=lambda t: (-t[0], t[1]))

    before = now(producer.path)
    got = []
    for _ in ids:
        (job,) = consumer.claim("emails", "worker-1", 1, 60)
        assert job["queue"] == "emails" and job["worker_id"] == "worker-1"
        assert job["attempts"] == 1
        assert before + 60 <= job["claim_expires_at"] <= now(producer.path) + 60
        got.append((job["id"], job["payload"]))
        assert consumer.ack("emails", job["id"], "worker-1") == 1
        assert consumer.ack("emails", job["id"], "worker-1") == 0
    assert got == [(i, p) for _, i, p in expected]
    assert consumer.claim("emails", "worker-1", 5) == []
    assert raw_one(producer.path, "SELECT count(*) FROM _honker_live") == 0
    assert _dead(producer.path) == []
    # Jobs are never reused ids (AUTOINCREMENT), whoever enqueues next.
    assert consumer.enqueue("emails", 1) == max(ids) + 1
    assert producer.enqueue("emails", 2) == max(ids) + 2


def test_claim_batch_and_ack_batch(pair: Pair) -> None:
    producer, consumer = pair
    ids = [producer.enqueue("batch", {"i": i}) for i in range(5)]
    jobs = consumer.claim("batch", "w", 3, 30)
    assert sorted(j["id"] for j in jobs) == ids[:3]
    assert sorted(j["payload"]["i"] for j in jobs) == [0, 1, 2]
    # The producer side acks the consumer's claims by id + worker id.
    assert producer.ack_batch("batch", [j["id"] for j in jobs] + [999], "w") == 3
    rest = producer.claim("batch", "w2", 10, 30)
    assert sorted(j["id"] for j in rest) == ids[3:]
    assert consumer.ack_batch("batch", [j["id"] for j in rest], "wrong-worker") == 0
    assert consumer.ack_batch("batch", [j["id"] for j in rest], "w2") == 2


def test_delay_and_run_at_moved_with_sql(pair: Pair) -> None:
    producer, consumer = pair
    t = now(producer.path)
    delayed = producer.enqueue("later", "d", delay=3600)
    scheduled = producer.enqueue("later", "r", run_at=t + 7200)
    assert consumer.claim("later", "w") == []
    # Both engines agree on when the queue next has work.
    assert consumer.next_claim_at("later") == producer.next_claim_at("later")
    assert t + 3600 <= consumer.next_claim_at("later") <= now(producer.path) + 3600

    raw_exec(
        producer.path, "UPDATE _honker_live SET run_at = unixepoch() - 1 WHERE id = ?", (scheduled,)
    )
    (job,) = consumer.claim("later", "w")
    assert job["id"] == scheduled and job["payload"] == "r"
    # A valid claim makes the next deadline its expiry + 1.
    assert producer.next_claim_at("later") == job["claim_expires_at"] + 1
    raw_exec(producer.path, "UPDATE _honker_live SET run_at = unixepoch() WHERE id = ?", (delayed,))
    (job2,) = consumer.claim("later", "w")
    assert job2["id"] == delayed


def test_retry_by_each_side_until_dead(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("flaky", {"k": "v"}, max_attempts=2, priority=7)
    (a,) = consumer.claim("flaky", "c-worker")
    assert (a["id"], a["attempts"]) == (job_id, 1)
    assert consumer.retry("flaky", job_id, "c-worker", 0, "first boom") == 1
    assert consumer.retry("flaky", job_id, "c-worker", 0, "again") == 0  # no longer holds it
    live = producer.get_job("flaky", job_id)
    assert live is not None
    assert (live["state"], live["attempts"], live["worker_id"]) == ("pending", 1, None)

    (b,) = producer.claim("flaky", "p-worker")
    assert (b["id"], b["attempts"]) == (job_id, 2)
    assert producer.retry("flaky", job_id, "p-worker", 30, "second boom: ü") == 1  # dead now
    assert producer.get_job("flaky", job_id) is None
    assert consumer.get_job("flaky", job_id) is None
    (dead,) = _dead(producer.path)
    assert json.loads(dead.pop("payload")) == {"k": "v"}
    assert dead == {
        "id": job_id,
        "queue": "flaky",
        "attempts": 2,
        "max_attempts": 2,
        "last_error": "second boom: ü",
        "priority": 7,
    }


def test_retry_delay_is_honoured_by_the_other(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("backoff", 1)
    consumer.claim("backoff", "w")
    assert consumer.retry("backoff", job_id, "w", 600, "later") == 1
    assert producer.claim("backoff", "w2") == []
    assert producer.next_claim_at("backoff") >= now(producer.path) + 599
    raw_exec(producer.path, "UPDATE _honker_live SET run_at = unixepoch() - 1")
    (job,) = producer.claim("backoff", "w2")
    assert job["attempts"] == 2


def test_fail_goes_to_dead_with_the_error(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("f", {"x": 1}, max_attempts=5)
    consumer.claim("f", "w")
    assert producer.fail("f", job_id, "someone-else", "nope") == 0
    assert consumer.fail("f", job_id, "w", 'fatal: "quoted"\nnext line') == 1
    assert producer.ack("f", job_id, "w") == 0
    (dead,) = _dead(producer.path)
    assert (dead["id"], dead["attempts"], dead["max_attempts"]) == (job_id, 1, 5)
    assert dead["last_error"] == 'fatal: "quoted"\nnext line'


def test_expired_claim_is_reclaimed_by_the_other(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("vt", "p")
    consumer.claim("vt", "slow", 1, 300)
    assert producer.claim("vt", "fast") == []  # still validly held
    assert consumer.heartbeat("vt", job_id, "slow", 600) == 1
    raw_exec(producer.path, "UPDATE _honker_live SET claim_expires_at = unixepoch() - 1")
    assert consumer.heartbeat("vt", job_id, "slow", 600) == 0  # too late to extend
    (job,) = producer.claim("vt", "fast")
    assert (job["id"], job["attempts"], job["worker_id"]) == (job_id, 2, "fast")
    assert consumer.ack("vt", job_id, "slow") == 0  # the old holder lost it
    assert producer.heartbeat("vt", job_id, "fast", 120) == 1
    assert consumer.ack("vt", job_id, "fast") == 1


def test_max_attempts_exceeded_dead_letter(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("crashy", {"n": 1}, max_attempts=1)
    consumer.claim("crashy", "dies")  # ... and the worker crashes
    raw_exec(producer.path, "UPDATE _honker_live SET claim_expires_at = unixepoch() - 1")
    assert producer.next_claim_at("crashy") == 0  # exhausted rows schedule nothing
    assert producer.claim("crashy", "next") == []  # dead-letters it instead
    (dead,) = _dead(producer.path)
    assert (dead["id"], dead["last_error"], dead["attempts"]) == (
        job_id,
        "max attempts exceeded",
        1,
    )
    assert consumer.ack("crashy", job_id, "dies") == 0
    # max_attempts <= 0 is dead-lettered by the first claim, by either engine.
    zero = consumer.enqueue("crashy", "z", max_attempts=0)
    assert producer.claim("crashy", "w") == []
    assert [d["id"] for d in _dead(producer.path)] == [job_id, zero]


def test_expiry_and_sweep(pair: Pair) -> None:
    producer, consumer = pair
    keep = producer.enqueue("exp", "keep", expires=3600)
    gone = producer.enqueue("exp", "gone", expires=3600)
    raw_exec(
        producer.path, "UPDATE _honker_live SET expires_at = unixepoch() WHERE id = ?", (gone,)
    )
    (job,) = consumer.claim("exp", "w", 5)
    assert job["id"] == keep  # the expired one is never claimed
    assert consumer.sweep_expired("exp") == 1
    assert producer.sweep_expired("exp") == 0
    (dead,) = _dead(producer.path)
    assert (dead["id"], dead["last_error"], dead["attempts"]) == (gone, "expired", 0)


def test_cancel_from_the_other_side(pair: Pair) -> None:
    producer, consumer = pair
    pending = producer.enqueue("c", 1)
    held = producer.enqueue("c", 2, priority=1)
    (job,) = consumer.claim("c", "w")
    assert job["id"] == held
    assert producer.cancel("c", held) == 1
    assert producer.cancel("c", pending) == 1
    assert consumer.cancel("c", pending) == 0
    assert consumer.ack("c", held, "w") == 0
    assert consumer.heartbeat("c", held, "w", 10) == 0
    assert _dead(producer.path) == []


def test_get_job_sees_the_others_rows(pair: Pair) -> None:
    producer, consumer = pair
    job_id = producer.enqueue("g", {"ü": [1]}, priority=3, max_attempts=4, expires=100)
    row = raw_rows(producer.path, "SELECT * FROM _honker_live WHERE id = ?", (job_id,))[0]
    assert consumer.get_job("g", job_id) == row == producer.get_job("g", job_id)
    assert consumer.get_job("g", 12345) is None


def test_no_wake_notifications_are_written(pair: Pair) -> None:
    for side in pair:
        side.enqueue("quiet", 1)
        side.publish("topic", 1)
        jid = side.enqueue("quiet", 2)
        side.claim("quiet", "w", 5)
        side.retry("quiet", jid, "w", 0, "e")
    assert raw_one(pair[0].path, "SELECT count(*) FROM _honker_notifications") == 0


async def test_python_worker_is_woken_by_a_honker_enqueue(
    node: Any, open_db: Any, shared_db: str
) -> None:
    db = open_db(shared_db)
    n = NodeSide(node, shared_db)
    q = db.queue("wake")
    it = q.claim("py-worker", idle_poll_s=None)  # no fallback poll: only a wake can deliver

    async def first() -> honker.Job:
        return await it.__anext__()

    task = asyncio.ensure_future(first())
    await asyncio.sleep(0.05)
    assert not task.done()
    job_id = n.enqueue("wake", {"hello": "from honker"})
    job = await within(task, 5)
    assert (job.id, job.payload) == (job_id, {"hello": "from honker"})
    assert job.ack()
    it.close()


def test_honker_update_events_see_a_python_enqueue(node: Any, open_db: Any, shared_db: str) -> None:
    n = NodeSide(node, shared_db)
    py = PySide(open_db(shared_db))
    sub = node.request("subscribe", db=shared_db)
    assert node.request("wait", sub=sub, timeoutMs=50) is False
    job_id = py.enqueue("wake", [1])
    assert node.request("wait", sub=sub, timeoutMs=5000) is True
    (job,) = n.claim("wake", "node-worker")
    assert job["id"] == job_id
    node.request("unsubscribe", sub=sub)


def test_concurrent_claimers_never_share_a_job(node: Any, open_db: Any, shared_db: str) -> None:
    """honker (node process) and us (a thread here) drain one queue at the same time."""
    n = NodeSide(node, shared_db)
    py = PySide(open_db(shared_db))
    ids = node.tx(shared_db, [
        {"q": "SELECT honker_enqueue('race', ?, NULL, NULL, 0, 3, NULL) AS id", "p": [str(i)]}
        for i in range(300)
    ])  # fmt: skip
    ids = [rows[0]["id"] for rows in ids]
    mine: list[int] = []

    def python_worker() -> None:
        while jobs := py.claim("race", "py", 1, 60):
            mine.append(jobs[0]["id"])
            time.sleep(0.001)  # "work", outside any transaction (else SQLite's busy
            # handler lets one tight loop starve the other process: not what we test)
            assert py.ack("race", jobs[0]["id"], "py") == 1

    worker = threading.Thread(target=python_worker)
    worker.start()
    theirs: list[int] = []
    while jobs := n.claim("race", "node", 1, 60):
        theirs.append(jobs[0]["id"])
        assert n.ack("race", jobs[0]["id"], "node") == 1
    worker.join(30)
    assert not set(mine) & set(theirs)
    assert sorted(mine + theirs) == ids
    assert mine and theirs, "both engines should have won some claims"
    assert raw_one(shared_db, "SELECT count(*) FROM _honker_live") == 0


def test_claim_dead_letters_what_honker_would(node: Any, open_db: Any, tmp_path: Any) -> None:
    """After honker's engine leaves exhausted rows anywhere in a queue, one claim by
    us buries exactly what one claim by honker buries (a differential check on a
    copy of the file, taken after our Database already claimed from that queue)."""
    path, twin = str(tmp_path / "dl.db"), str(tmp_path / "dl-twin.db")
    n = NodeSide(node, path)
    py = PySide(open_db(path))
    assert py.claim("dl", "w") == []  # our per-queue state now exists
    x = n.enqueue("dl", "x", priority=20, max_attempts=1)
    assert [j["id"] for j in n.claim("dl", "crashed", 1, -1)] == [x]  # claim already expired
    head = n.enqueue("dl", "head", priority=10)
    n.enqueue("dl", "zero", priority=-5, max_attempts=0)
    n.enqueue("dl", "neg", priority=-9, max_attempts=-1, run_at=0)
    late = n.enqueue("dl", "later-zero", delay=3600, max_attempts=0)
    n.enqueue("dl", "expired-zero", max_attempts=0, expires=-1)  # expired: stays live
    raw_exec(path, "UPDATE _honker_live SET run_at = unixepoch() WHERE id = ?", (late,))
    with raw(path) as src, raw(twin) as dst:
        src.backup(dst)

    ours = py.claim("dl", "w", 1, 60)
    theirs = NodeSide(node, twin).claim("dl", "w", 1, 60)
    assert [j["id"] for j in ours] == [j["id"] for j in theirs] == [head]

    def state(p: str) -> tuple[Any, ...]:
        return (
            raw_rows(p, "SELECT id, last_error, attempts FROM _honker_dead ORDER BY id"),
            raw_rows(p, "SELECT id, state, attempts FROM _honker_live ORDER BY id"),
        )

    assert state(path) == state(twin)
    assert len(state(path)[0]) == 4
