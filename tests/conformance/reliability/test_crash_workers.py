"""Workers SIGKILLed at random while they drain a queue lose nothing.

Four worker processes claim 3,000 jobs (visibility timeout 2 s, 50 attempts)
while the test SIGKILLs a random worker every ~300 ms and starts a new one.
Each worker records a job as done in the *same transaction* as its ack
(``job.ack(tx=tx)`` plus an INSERT), and records every execution it starts in
a transaction of its own. On both backends. So:

- ``done`` holds every job exactly once: a job whose worker died before the
  ack commit was reclaimed after its visibility timeout and done by another;
  an ack whose claim had expired returns 0 and writes nothing;
- ``started`` minus ``done`` is the duplicate work at-least-once delivery
  costs; it is printed (run with ``-s`` to see it).
"""

from __future__ import annotations

import random
import time

import pytest
from helpers import spawn_child
from rel_support import intact, sigkill

import honker

JOBS = 3000
WORKERS = 4
KILL_EVERY_S = 0.3
DEADLINE_S = 60.0

WORKER = """
import asyncio, os, sys, time
import honker

path, slot = sys.argv[1], sys.argv[2]
db = honker.open(path)
q = db.queue("jobs", visibility_timeout_s=2, max_attempts=50)
wid = f"w{slot}-{os.getpid()}"
print("ready", flush=True)

async def main():
    async for job in q.claim(wid, idle_poll_s=0.5):
        with db.transaction() as tx:  # the side effect: "I started this job"
            tx.execute("INSERT INTO started (job_id, worker) VALUES (?, ?)", [job.id, wid])
        deadline = time.perf_counter() + 0.002  # the job's work: 2 ms of CPU
        while time.perf_counter() < deadline:
            pass
        with db.transaction() as tx:  # ack and its business row commit together
            if job.ack(tx=tx):
                tx.execute("INSERT INTO done (job_id, worker) VALUES (?, ?)", [job.id, wid])

asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_sigkilled_workers_lose_no_job(db: honker.Database, db_path: str, backend: str) -> None:
    q = db.queue("jobs", visibility_timeout_s=2, max_attempts=50)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE started (job_id INTEGER NOT NULL, worker TEXT NOT NULL)")
        tx.execute("CREATE TABLE done (job_id INTEGER NOT NULL, worker TEXT NOT NULL)")
        ids = [q.enqueue({"i": i}, tx=tx) for i in range(JOBS)]

    rng = random.Random(20240601)
    workers = [spawn_child(WORKER, db_path, slot) for slot in range(WORKERS)]
    kills = 0
    started = time.monotonic()
    next_kill = started + KILL_EVERY_S

    def live() -> int:
        return db.query("SELECT COUNT(*) AS n FROM _honker_live")[0]["n"]

    try:
        while live() > 0:
            now = time.monotonic()
            assert now - started < DEADLINE_S, f"queue not drained in {DEADLINE_S}s ({live()} left)"
            if now >= next_kill:
                slot = rng.randrange(WORKERS)
                sigkill(workers[slot])
                kills += 1
                # Not waiting for "ready": the controller keeps its cadence.
                workers[slot] = spawn_child(WORKER, db_path, slot, ready=None)
                next_kill = now + KILL_EVERY_S * rng.uniform(0.5, 1.5)
            time.sleep(0.01)  # the controller's tick, not a synchronisation
    finally:
        for w in workers:
            sigkill(w)
    elapsed = time.monotonic() - started

    done = db.query("SELECT job_id, COUNT(*) AS n FROM done GROUP BY job_id")
    starts = db.query("SELECT COUNT(*) AS n FROM started")[0]["n"]
    redelivered = db.query(
        "SELECT COUNT(*) AS n FROM"
        " (SELECT job_id FROM started GROUP BY job_id HAVING COUNT(*) > 1) r"
    )[0]["n"]
    print(
        f"\n{JOBS} jobs, {kills} SIGKILLs in {elapsed:.1f}s: {starts} executions started, "
        f"{starts - JOBS} duplicate executions over {redelivered} jobs; "
        f"every job done exactly once"
    )
    assert kills >= 10, "the controller must actually have killed workers"
    assert sorted(r["job_id"] for r in done) == sorted(ids), "a job was never acked"
    assert all(r["n"] == 1 for r in done), "a business row committed twice"
    assert db.query("SELECT COUNT(*) AS n FROM _honker_dead")[0]["n"] == 0
    assert live() == 0
    assert intact(backend, db, db_path)
