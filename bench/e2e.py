"""End to end: 1 producer process and 2 worker processes on one file.

The producer enqueues N jobs, one per transaction, as fast as it can; two
worker processes claim and ack them concurrently. The figure is N divided by
the time from the producer's start to the last ack.

honker's workers wait in ``queue.claim()`` (woken by the update watcher).
Bare sqlite3 runs the same claim UPDATE / ack DELETE and, when the queue is
empty, sleeps 1 ms and polls again.

    python bench/e2e.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from _common import ROOT, bare_connect, print_rows, row, save, tmp_db

WORKER_OURS = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[3])
import honker
db = honker.open(sys.argv[1]); q = db.queue("q"); total = int(sys.argv[2])
async def main():
    print("ready", flush=True)
    async for job in q.claim(sys.argv[4]):
        job.ack()
        if job.payload["n"] < 0:
            break
asyncio.run(main())
"""

WORKER_BARE = r"""
import sys, time
sys.path.insert(0, sys.argv[3]); sys.path.insert(0, sys.argv[3] + "/bench")
from _common import bare_connect
from honker.backends.sqlite.sql import Q
conn = bare_connect(sys.argv[1], with_schema=False)
print("ready", flush=True)
claim, ack = Q["claim"], Q["ack"]
while True:
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute(claim, ("q", sys.argv[4], 1, 300)).fetchall()
    conn.execute("COMMIT")
    if not rows:
        time.sleep(0.001)
        continue
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(ack, (rows[0][0], sys.argv[4])).fetchall()
    conn.execute("COMMIT")
    if '"n": -1' in rows[0][2]:
        break
"""


def run(kind: str, jobs: int) -> float:
    path = tmp_db()
    bare_connect(path).close()
    code = WORKER_OURS if kind == "ours" else WORKER_BARE
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, path, str(jobs), str(ROOT), f"w{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        return produce(kind, path, jobs, workers)
    finally:
        for w in workers:  # on an error, the workers would wait for ever
            if w.poll() is None:
                w.kill()
                w.wait()


def produce(kind: str, path: str, jobs: int, workers: list[subprocess.Popen[str]]) -> float:
    for w in workers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    if kind == "ours":
        sys.path.insert(0, str(ROOT))
        import honker

        db = honker.open(path)
        q = db.queue("q")
        for i in range(jobs):
            q.enqueue({"n": i})
        for _ in workers:
            q.enqueue({"n": -1})
        reap(workers)
        db.close()
    else:
        from honker.backends.sqlite.sql import Q

        conn = bare_connect(path, with_schema=False)
        for i in [*range(jobs), -1, -1]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(Q["enqueue"], ("q", json.dumps({"n": i}), None, None, 0, 3, None))
            conn.execute("COMMIT")
        reap(workers)
        conn.close()
    return jobs / (time.perf_counter() - t0)


def reap(workers: list[subprocess.Popen[str]]) -> None:
    """Wait for every worker; a worker that died is an error, not a figure."""
    for w in workers:
        if w.wait() != 0:
            raise RuntimeError(f"e2e worker exited with {w.returncode}")
        if w.stdout is not None:
            w.stdout.close()


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    a = ap.parse_args(argv)
    ours = max(run("ours", a.jobs) for _ in range(2))
    bare = max(run("bare", a.jobs) for _ in range(2))
    rows = [row("end to end, 1 producer + 2 worker procs", ours, bare, "jobs/s")]
    print_rows(rows)
    save("e2e", rows)
    return rows


if __name__ == "__main__":
    main()
