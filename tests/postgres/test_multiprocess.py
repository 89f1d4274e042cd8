"""Several processes on one PostgreSQL server: claims are exclusive, and a
commit in one process wakes a claim iterator waiting in another through
LISTEN/NOTIFY.

Children are small scripts (argv: the URL, then their own arguments) that
print ``ready`` once set up. Nothing is measured; the wake bound is a generous
floor far below every fallback (the iterators run with ``idle_poll_s=None``
and the feed's safety tick is 10 s), so it only fails if NOTIFY did not wake.
"""

from __future__ import annotations

import textwrap
from collections import Counter

from helpers import Lines, spawn_child, wait_until

import honker
from honker.backends.postgres.changes import SAFETY_TICK_S

WAKE_FLOOR_S = 3.0
JOBS = 300
WORKERS = 3

WORKER = textwrap.dedent(
    """
    import asyncio, os, sys
    import honker

    async def main():
        db = honker.open(sys.argv[1])
        q = db.queue("jobs")
        wid = f"w{sys.argv[2]}-{os.getpid()}"
        jobs = q.claim(wid, idle_poll_s=None)
        first = asyncio.create_task(anext(jobs))
        await asyncio.sleep(0)  # the first claim found nothing: it now waits on LISTEN
        print("ready", flush=True)
        job = await first
        while True:
            print(f"done {job.id} {job.ack()}", flush=True)
            job = await anext(jobs)

    asyncio.run(main())
    """
)

CLAIM_ONE = textwrap.dedent(
    """
    import asyncio, sys, time, honker

    async def main():
        db = honker.open(sys.argv[1])
        jobs = db.queue("jobs").claim("child", idle_poll_s=None)
        task = asyncio.create_task(anext(jobs))
        await asyncio.sleep(0)  # the queue was empty: now it waits on LISTEN
        print("ready", flush=True)
        job = await task
        print(f"claimed {job.id} {time.monotonic()} {job.ack()}", flush=True)
        db.close()

    asyncio.run(main())
    """
)

ENQUEUE_ON_GO = textwrap.dedent(
    """
    import sys, time, honker
    db = honker.open(sys.argv[1])
    q = db.queue("jobs")
    print("ready", flush=True)
    sys.stdin.readline()
    with db.transaction() as tx:
        job_id = q.enqueue({"from": "child"}, tx=tx)
        sent = time.monotonic()
    print(f"enqueued {job_id} {sent}", flush=True)
    db.close()
    """
)


def test_worker_processes_do_every_job_once(db: honker.Database, pg_url: str) -> None:
    q = db.queue("jobs")
    workers = [spawn_child(WORKER, pg_url, i) for i in range(WORKERS)]
    with db.transaction() as tx:  # one commit: every waiting worker wakes at once
        ids = {q.enqueue({"n": i}, tx=tx) for i in range(JOBS)}
    outputs = [Lines(w) for w in workers]

    def done() -> list[str]:
        return [line for out in outputs for line in out.starting("done ")]

    wait_until(lambda: len(done()) >= JOBS, timeout=60, message="every job done")
    acked = Counter(int(line.split()[1]) for line in done() if line.endswith(" True"))
    assert set(acked) == ids, "every job was acked"
    assert max(acked.values()) == 1, "and none twice"
    assert all(line.endswith(" True") for line in done()), "no claim was lost to another"
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]
    busy = [out for out in outputs if out.starting("done ")]
    assert len(busy) >= 2, "the work was shared between processes"


def test_an_enqueue_in_another_process_wakes_a_waiting_claim(pg_url: str) -> None:
    assert WAKE_FLOOR_S < SAFETY_TICK_S, "the bound must prove LISTEN/NOTIFY woke it"
    db = honker.open(pg_url)  # creates the schema before the children race for it
    db.close()
    waiter = spawn_child(CLAIM_ONE, pg_url)
    producer = spawn_child(ENQUEUE_ON_GO, pg_url)
    producer.send("go")
    _, job_id, sent = producer.readline().split()
    _, claimed_id, woke, acked = waiter.readline(timeout=10).split()
    assert (claimed_id, acked) == (job_id, "True")
    assert float(woke) - float(sent) < WAKE_FLOOR_S
    producer.wait()
    waiter.wait()
