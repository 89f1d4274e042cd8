"""Workers SIGKILLed at random while they drain a queue lose nothing.

Four worker processes claim 3,000 jobs (visibility timeout 2 s, 50 attempts)
while the test SIGKILLs a random worker every ~300 ms and starts a new one
(the drill of tests/chaos_drill.py, which tests/postgres/test_multihost.py
runs across network namespaces). Each worker records a job as done in the
*same transaction* as its ack (``job.ack(tx=tx)`` plus an INSERT), and records
every execution it starts in a transaction of its own. On both backends. So:

- ``done`` holds every job exactly once: a job whose worker died before the
  ack commit was reclaimed after its visibility timeout and done by another;
  an ack whose claim had expired returns False and writes nothing;
- ``started`` minus ``done`` is the duplicate work at-least-once delivery
  costs; it is printed (run with ``-s`` to see it).
"""

from __future__ import annotations

import chaos_drill
import pytest
from helpers import spawn_child
from rel_support import intact

import honker

JOBS = 3000
WORKERS = 4
KILL_EVERY_S = 0.3
DEADLINE_S = 60.0


@pytest.mark.timeout(120)
def test_sigkilled_workers_lose_no_job(db: honker.Database, db_path: str, backend: str) -> None:
    ids = chaos_drill.prepare(db, JOBS)
    # The drill checks that every job was done exactly once, none died, none is left.
    drill = chaos_drill.run(
        db,
        ids,
        lambda slot: spawn_child(chaos_drill.WORKER, db_path, slot, ready=None),
        workers=WORKERS,
        kill_every_s=KILL_EVERY_S,
        deadline_s=DEADLINE_S,
        seed=20240601,
    )
    print(f"\n{drill}")
    assert drill.kills >= 10, "the controller must actually have killed workers"
    assert intact(backend, db, db_path)
