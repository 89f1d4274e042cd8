"""The SIGKILL chaos drill shared by tests/conformance/reliability/
test_crash_workers.py (both backends) and tests/postgres/test_multihost.py:
worker processes drain one queue while a controller SIGKILLs a random one
every ``kill_every_s`` and starts another.

Each worker records every execution it starts in a transaction of its own
(``started``) and acks *inside* the business transaction that inserts the
job's effect row (``done``): ``job.ack(tx=tx)`` returns False when the claim
expired and was taken over, and then nothing is inserted. So after the drain
``done`` holds every job exactly once, while ``started`` minus ``done`` is the
duplicate work at-least-once delivery costs.

How the workers are started is the caller's: ``start(slot)`` returns a
``helpers.Child`` (a local child, or one inside a network namespace).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from helpers import Child
from rel_support import sigkill

import honker

VISIBILITY_S = 2
MAX_ATTEMPTS = 50

# argv: database (a file or a URL), slot. Prints "ready" once its claim loop is about to start.
WORKER = f"""
import asyncio, os, sys, time
import honker

url, slot = sys.argv[1], sys.argv[2]
db = honker.open(url)
q = db.queue("jobs", visibility_timeout_s={VISIBILITY_S}, max_attempts={MAX_ATTEMPTS})
wid = f"w{{slot}}-{{os.getpid()}}"
print("ready", flush=True)

async def main():
    async for job in q.claim(wid, idle_poll_s=0.5):
        with db.transaction() as tx:  # the side effect: "I started this job"
            tx.execute("INSERT INTO started (job_id, worker) VALUES (?, ?)", [job.id, wid])
        deadline = time.perf_counter() + 0.002  # the job's work: 2 ms of CPU
        while time.perf_counter() < deadline:
            pass
        with db.transaction() as tx:  # the ack and its effect row commit together
            if job.ack(tx=tx):
                tx.execute("INSERT INTO done (job_id, worker) VALUES (?, ?)", [job.id, wid])

asyncio.run(main())
"""


@dataclass
class Drill:
    jobs: int
    kills: int
    seconds: float
    executions: int
    redelivered: int

    def __str__(self) -> str:
        return (
            f"{self.jobs} jobs, {self.kills} SIGKILLs in {self.seconds:.1f}s: "
            f"{self.executions} executions started, {self.executions - self.jobs} duplicate "
            f"executions over {self.redelivered} jobs; every job done exactly once"
        )


def prepare(db: honker.Database, jobs: int) -> list[int]:
    """The ``started`` and ``done`` tables (no key: a duplicate must be countable)
    and ``jobs`` jobs, enqueued in one transaction."""
    q = db.queue("jobs", visibility_timeout_s=VISIBILITY_S, max_attempts=MAX_ATTEMPTS)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE started (job_id bigint NOT NULL, worker text NOT NULL)")
        tx.execute("CREATE TABLE done (job_id bigint NOT NULL, worker text NOT NULL)")
        return [q.enqueue({"i": i}, tx=tx) for i in range(jobs)]


def live(db: honker.Database) -> int:
    return int(db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"])


def run(
    db: honker.Database,
    ids: list[int],
    start: Callable[[int], Child],
    *,
    workers: int,
    kill_every_s: float,
    deadline_s: float,
    seed: int,
    during: Callable[[], None] | None = None,
) -> Drill:
    """Start ``workers`` workers, SIGKILL and replace one at random every
    ~``kill_every_s`` until the queue is drained, then check that every job
    was done exactly once. Returns what happened. ``during()`` runs at every
    tick of the controller (to observe the workers while they live)."""
    rng = random.Random(seed)
    running = [start(slot) for slot in range(workers)]
    kills = 0
    began = time.monotonic()
    next_kill = began + kill_every_s
    try:
        while (left := live(db)) > 0:
            now = time.monotonic()
            assert now - began < deadline_s, f"queue not drained in {deadline_s}s ({left} left)"
            if now >= next_kill:
                slot = rng.randrange(workers)
                sigkill(running[slot])
                kills += 1
                running[slot] = start(slot)
                next_kill = now + kill_every_s * rng.uniform(0.5, 1.5)
            if during is not None:
                during()
            time.sleep(0.01)  # the controller's tick, not a synchronisation
    finally:
        for child in running:
            sigkill(child)
    seconds = time.monotonic() - began

    done = db.query("SELECT job_id, count(*) AS n FROM done GROUP BY job_id")
    executions = int(db.query("SELECT count(*) AS n FROM started")[0]["n"])
    redelivered = db.query(
        "SELECT count(*) AS n FROM (SELECT job_id FROM started GROUP BY job_id"
        " HAVING count(*) > 1) s"
    )[0]["n"]
    assert sorted(r["job_id"] for r in done) == sorted(ids), "a job was never acked"
    twice = [r["job_id"] for r in done if r["n"] != 1]
    assert not twice, f"effect rows committed twice: {twice[:10]}"
    assert db.query("SELECT count(*) AS n FROM _honker_dead") == [{"n": 0}]
    assert live(db) == 0
    return Drill(len(ids), kills, seconds, executions, int(redelivered))
