"""Cross-process behaviour with real child processes (docs/spec/python-api.md §20;
docs/spec/engine.md §8): wakes travel through the file, claims are exclusive.

Each child is a small script (argv: the database path, then its own
arguments) that prints ``ready`` once it is set up and then talks over
stdin/stdout. Nothing is measured; the latency bound is a generous floor that
only fails if a wake was missed and the fallback poll did the work.
"""

from __future__ import annotations

import asyncio
import textwrap
import time

from helpers import spawn_child, within

import honker

LATENCY_FLOOR_S = 1.0

ENQUEUE_ON_GO = textwrap.dedent(
    """
    import sys, time, honker
    db = honker.open(sys.argv[1])
    q = db.queue("jobs")
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "go":
            job_id = q.enqueue({"from": "child"})
            print(f"enqueued {job_id} {time.time()}", flush=True)
        else:
            break
    db.close()
    """
)

CLAIM_ONE = textwrap.dedent(
    """
    import asyncio, sys, time, honker

    async def main():
        db = honker.open(sys.argv[1])
        jobs = db.queue("jobs").claim("child", idle_poll_s=None)
        task = asyncio.create_task(anext(jobs))
        await asyncio.sleep(0)  # the queue was empty: now it waits on the watcher
        print("ready", flush=True)
        job = await task
        print(f"claimed {job.id} {time.time()} {job.ack()}", flush=True)
        db.close()

    asyncio.run(main())
    """
)

NOTIFY_ON_GO = textwrap.dedent(
    """
    import sys, time, honker
    db = honker.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    with db.transaction() as tx:
        tx.notify("events", {"from": "child"})
    print(f"notified {time.time()}", flush=True)
    db.close()
    """
)

CLAIM_UNTIL_EMPTY = textwrap.dedent(
    """
    import sys, honker
    db = honker.open(sys.argv[1])
    q = db.queue("jobs")
    name = sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()
    claimed = []
    while (job := q.claim_one(name)) is not None:
        assert job.ack(), job.id
        claimed.append(job.id)
    print("claimed " + " ".join(map(str, claimed)), flush=True)
    db.close()
    """
)


async def test_job_from_a_child_wakes_a_waiting_claim(db: honker.Database, db_path: str) -> None:
    q = db.queue("jobs")
    jobs = q.claim("parent", idle_poll_s=None)
    with spawn_child(ENQUEUE_ON_GO, db_path) as child:
        task = asyncio.create_task(anext(jobs))
        await asyncio.sleep(0)
        assert not task.done()
        child.send("go")
        job = await within(task, 10)
        received = time.time()
        _, job_id, sent = child.readline().split()
        assert job.id == int(job_id)
        assert job.payload == {"from": "child"}
        assert received - float(sent) < LATENCY_FLOOR_S
        assert job.ack()
        child.send("stop")
        child.wait()


def test_job_from_the_parent_wakes_a_claim_in_a_child(db: honker.Database, db_path: str) -> None:
    q = db.queue("jobs")
    with spawn_child(CLAIM_ONE, db_path) as child:
        sent = time.time()
        job_id = q.enqueue({"from": "parent"})
        _, claimed_id, received, acked = child.readline().split()
        assert int(claimed_id) == job_id
        assert acked == "True"
        assert float(received) - sent < LATENCY_FLOOR_S
        child.wait()
    assert q.get_job(job_id) is None


async def test_notify_from_a_child_reaches_a_listener(db: honker.Database, db_path: str) -> None:
    listener = db.listen("events", fallback_poll_s=None)
    with spawn_child(NOTIFY_ON_GO, db_path) as child:
        pending = asyncio.create_task(anext(listener))
        await asyncio.sleep(0)
        assert not pending.done()
        child.send("go")
        note = await within(pending, 10)
        received = time.time()
        _, sent = child.readline().split()
        assert note.channel == "events" and note.payload == {"from": "child"}
        assert received - float(sent) < LATENCY_FLOOR_S
        child.wait()


def test_concurrent_claimers_in_three_processes(db: honker.Database, db_path: str) -> None:
    q = db.queue("jobs")
    with db.transaction() as tx:
        ids = {q.enqueue(i, tx=tx) for i in range(150)}
    children = [spawn_child(CLAIM_UNTIL_EMPTY, db_path, f"w{k}") for k in range(3)]
    try:
        for child in children:
            child.send("go")
        claimed: list[int] = []
        for child in children:
            word, *got = child.readline(30).split()
            assert word == "claimed"
            claimed += map(int, got)
            child.wait()
    finally:
        for child in children:
            child.kill()
    assert len(claimed) == len(ids), "no job was claimed twice"
    assert set(claimed) == ids, "every job was claimed"
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]
