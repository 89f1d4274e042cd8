"""Many processes claiming one PostgreSQL queue at the same instant.

Eight processes released at one instant claim in batches from one queue until
it is empty; no job reaches two of them and none is left.

SIGKILL chaos and producers/workers contention run on both backends from one
set of tests: tests/conformance/reliability/test_crash_workers.py and
test_contention.py. The chaos drill with several hosts is
tests/postgres/test_multihost.py (tests/chaos_drill.py).
"""

from __future__ import annotations

import textwrap
from collections import Counter

import pytest
from helpers import Lines, spawn_child, wait_until

import honker

CONTENDERS = 8
CONTENTION_JOBS = 4000

# argv: URL, slot. Waits for "go" on stdin, then claims batches of 7 until the
# queue is empty, printing "got <ids>" per batch and "acked <n>" at the end.
CONTENDER = textwrap.dedent(
    """
    import sys
    import honker

    db = honker.open(sys.argv[1] + "&pool_size=2")
    q = db.queue("work", visibility_timeout_s=600)
    wid = "c" + sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()
    acked = 0
    while jobs := q.claim_batch(wid, 7):
        print("got " + " ".join(str(j.id) for j in jobs), flush=True)
        acked += q.ack_batch([j.id for j in jobs], wid)
    print(f"acked {acked}", flush=True)
    db.close()
    """
)


@pytest.mark.timeout(120)
def test_processes_claiming_one_queue_never_share_a_job(db: honker.Database, pg_url: str) -> None:
    q = db.queue("work", visibility_timeout_s=600)
    with db.transaction() as tx:
        ids = {q.enqueue({"i": i}, tx=tx) for i in range(CONTENTION_JOBS)}
    contenders = [spawn_child(CONTENDER, pg_url, i) for i in range(CONTENDERS)]
    for child in contenders:  # every process is connected and waiting: release them together
        child.send("go")
    outputs = [Lines(c) for c in contenders]

    def finished() -> bool:
        return all(out.starting("acked ") for out in outputs)

    wait_until(finished, timeout=90, message="every contender found the queue empty")
    claimed: Counter[int] = Counter()
    for out in outputs:
        for line in out.starting("got "):
            claimed.update(int(x) for x in line.split()[1:])
    twice = [job for job, n in claimed.items() if n > 1]
    assert not twice, f"jobs claimed by two processes: {twice[:10]}"
    assert set(claimed) == ids, "every job was claimed"
    acks = sum(int(out.starting("acked ")[0].split()[1]) for out in outputs)
    assert acks == CONTENTION_JOBS, "each claimer acked exactly what it claimed"
    busy = sum(1 for out in outputs if out.starting("got "))
    assert busy >= 2, "the claims were shared between processes"
    for child in contenders:
        child.wait()
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]
