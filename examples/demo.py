"""honker demo: jobs flowing between processes through one SQLite file.

Starts W worker processes and one producer process on an embedded .db file.
The producer enqueues jobs at a steady rate; each worker waits in
``queue.claim()`` (no busy polling of the queue), does the "work", and records
the result *and* acks the job in one transaction. A few jobs fail on purpose:
some succeed on retry, a handful exhaust their attempts and land in the
dead-letter table. The parent draws live progress and ends with a summary.

    python examples/demo.py                 # defaults: 3000 jobs, 2 workers
    python examples/demo.py --jobs 10000 --workers 4 --rate 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import honker

QUEUE = "demo"
POISON_EVERY = 97  # every 97th job always fails: dead-lettered after 3 attempts
FLAKY_EVERY = 13  # every 13th job fails its first attempt, then succeeds

SCHEMA = """
CREATE TABLE IF NOT EXISTS demo_done (
  job_id INTEGER PRIMARY KEY,
  n INTEGER NOT NULL,
  worker TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  latency_ms REAL NOT NULL
)
"""


# -- worker process -------------------------------------------------------------
async def work(path: str, name: str) -> None:
    db = honker.open(path)
    q = db.queue(QUEUE, visibility_timeout_s=30)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)

    async def consume() -> None:
        async for job in q.claim(name):
            picked = time.time()
            n = job.payload["n"]
            if n % POISON_EVERY == 0 or (n % FLAKY_EVERY == 0 and job.attempts == 1):
                job.retry(delay_s=0, error=f"job {n}: simulated failure")
                continue
            # The business write and the ack commit together: a crash between
            # them cannot record the work without acking it, or the reverse.
            latency_ms = (picked - job.payload["t"]) * 1000
            with db.transaction() as tx:
                tx.execute(
                    "INSERT OR IGNORE INTO demo_done VALUES (?, ?, ?, ?, ?)",
                    [job.id, n, name, job.attempts, latency_ms],
                )
                tx.query("SELECT honker_ack(?, ?)", [job.id, name])

    task = asyncio.create_task(consume())
    await stop.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    db.close()


# -- producer process -----------------------------------------------------------
def produce(path: str, jobs: int, rate: float) -> None:
    db = honker.open(path)
    q = db.queue(QUEUE, visibility_timeout_s=30)
    print("ready", flush=True)
    start = time.monotonic()
    for n in range(1, jobs + 1):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        q.enqueue({"n": n, "t": time.time()})
    db.close()


# -- the parent: orchestration and display -------------------------------------
def spawn(args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "ready":
        raise SystemExit(f"demo: child {args[0]} failed to start")
    return proc


def counts(db: honker.Database) -> dict[str, int]:
    row = db.query(
        """SELECT
             (SELECT count(*) FROM demo_done) AS done,
             (SELECT count(*) FROM _honker_live WHERE queue = ?1 AND state = 'pending') AS pending,
             (SELECT count(*) FROM _honker_live WHERE queue = ?1 AND state = 'processing') AS busy,
             (SELECT count(*) FROM _honker_dead WHERE queue = ?1) AS dead""",
        [QUEUE],
    )[0]
    return dict(row)


def bar(frac: float, width: int = 30) -> str:
    full = int(frac * width)
    return "#" * full + "-" * (width - full)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", help="database file (default: a fresh file in a temp dir)")
    ap.add_argument("--jobs", type=int, default=3000, help="jobs to enqueue (default 3000)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--rate", type=float, default=600.0, help="producer jobs/s (default 600)")
    ap.add_argument("--role", choices=["worker", "producer"], help=argparse.SUPPRESS)
    ap.add_argument("--name", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.jobs < 1 or a.workers < 1 or a.rate <= 0:
        ap.error("--jobs, --workers and --rate must be positive")

    if a.role == "worker":
        asyncio.run(work(a.db, a.name))
        return 0
    if a.role == "producer":
        produce(a.db, a.jobs, a.rate)
        return 0

    path = a.db or os.path.join(tempfile.mkdtemp(prefix="honker-demo-"), "demo.db")
    db = honker.open(path)
    db.queue(QUEUE, visibility_timeout_s=30)
    with db.transaction() as tx:
        tx.execute(SCHEMA)
    expected_dead = a.jobs // POISON_EVERY
    tty = sys.stdout.isatty()
    print(
        f"honker demo: {a.jobs} jobs, {a.workers} worker processes, 1 producer at {a.rate:g} jobs/s"
    )
    print(f"database: {path}")

    workers = [
        spawn(["--role", "worker", "--db", path, "--name", f"worker-{i + 1}"])
        for i in range(a.workers)
    ]
    t0 = time.monotonic()
    producer = spawn(
        ["--role", "producer", "--db", path, "--jobs", str(a.jobs), "--rate", str(a.rate)]
    )
    last_line = 0.0
    target = a.jobs - expected_dead
    try:
        while True:
            c = counts(db)
            elapsed = time.monotonic() - t0
            finished = c["done"] + c["dead"]
            line = (
                f"[{bar(finished / a.jobs)}] done {c['done']:>6}  pending {c['pending']:>5}  "
                f"running {c['busy']:>3}  dead {c['dead']:>3}  {elapsed:5.1f}s"
            )
            if tty:
                print("\r" + line, end="", flush=True)
            elif elapsed - last_line >= 1.0 or finished >= a.jobs:
                print(line, flush=True)
                last_line = elapsed
            if c["done"] >= target and c["dead"] >= expected_dead and producer.poll() is not None:
                break
            if elapsed > 300:
                print("\ndemo: timed out waiting for the workers", file=sys.stderr)
                return 1
            time.sleep(0.1)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for p in [*workers, producer]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    elapsed = time.monotonic() - t0
    if tty:
        print()

    lat = sorted(
        r["latency_ms"] for r in db.query("SELECT latency_ms FROM demo_done WHERE attempts = 1")
    )
    per_worker = db.query(
        "SELECT worker, count(*) AS n FROM demo_done GROUP BY worker ORDER BY worker"
    )
    retried = db.query("SELECT count(*) AS n FROM demo_done WHERE attempts > 1")[0]["n"]
    dead = db.query("SELECT id, attempts, last_error FROM _honker_dead WHERE queue = ?", [QUEUE])
    c = counts(db)
    print()
    print("summary")
    print(f"  jobs done        {c['done']} of {a.jobs} ({retried} after a retry)")
    print(f"  dead letters     {len(dead)} (poison jobs that failed all 3 attempts)")
    print(
        f"  throughput       {c['done'] / elapsed:,.0f} jobs/s over {elapsed:.1f}s (producer paced at {a.rate:g}/s)"
    )
    print(
        f"  wake latency     p50 {percentile(lat, 50):.2f} ms   p99 {percentile(lat, 99):.2f} ms"
        "   (enqueue in the producer -> job in a waiting worker)"
    )
    print("  per worker       " + ", ".join(f"{r['worker']}: {r['n']}" for r in per_worker))
    if dead:
        print(f"  a dead letter    job {dead[0]['id']}: {dead[0]['last_error']!r}")
    db.close()
    ok = c["done"] == target and len(dead) == expected_dead and c["pending"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
