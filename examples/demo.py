"""honker demo: jobs flowing between processes through one SQLite file.

Starts W worker processes and one producer process on an embedded .db file.
The producer enqueues jobs at a steady rate; each worker waits in
``queue.claim()`` (no busy polling of the queue), does the "work", and records
the result *and* acks the job in one transaction. A few jobs fail on purpose:
some succeed on retry, a handful exhaust their attempts and land in the
dead-letter table. The parent draws live progress and ends with a summary.

The database is kept (default ``./honker-demo.db``, recreated at each run) and
its path printed, with the command that opens the dashboard on it. With
``--forever`` the producer keeps going until Ctrl-C, so the dashboard shows
jobs flowing.

    python examples/demo.py                 # defaults: 3000 jobs, 2 workers
    python examples/demo.py --jobs 10000 --workers 4 --rate 2000
    python examples/demo.py --forever --rate 50   # until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
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
  latency_ms REAL NOT NULL,
  found_idle INTEGER NOT NULL  -- 1: the worker was idle when the job was enqueued
)
"""
DEFAULT_DB = "honker-demo.db"


# -- worker process -------------------------------------------------------------
async def work(path: str, name: str) -> None:
    db = honker.open(path)
    q = db.queue(QUEUE, visibility_timeout_s=30)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)

    async def consume() -> None:
        idle_since = time.time()  # when this worker last finished a job
        async for job in q.claim(name):
            picked = time.time()
            n = job.payload["n"]
            if n % POISON_EVERY == 0 or (n % FLAKY_EVERY == 0 and job.attempts == 1):
                job.retry(delay_s=0, error=f"job {n}: simulated failure")
                idle_since = time.time()
                continue
            # A job enqueued while this worker sat idle measures the wake-up;
            # one enqueued while it was busy also waited its turn (queueing).
            found_idle = job.attempts == 1 and job.payload["t"] >= idle_since
            # The business write and the ack commit together: a crash between
            # them cannot record the work without acking it, or the reverse.
            latency_ms = (picked - job.payload["t"]) * 1000
            with db.transaction() as tx:
                tx.execute(
                    "INSERT OR IGNORE INTO demo_done VALUES (?, ?, ?, ?, ?, ?)",
                    [job.id, n, name, job.attempts, latency_ms, int(found_idle)],
                )
                tx.query("SELECT honker_ack(?, ?)", [job.id, name])
            idle_since = time.time()

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
    """Enqueue ``jobs`` jobs (0: until SIGTERM) at ``rate`` per second."""
    db = honker.open(path)
    q = db.queue(QUEUE, visibility_timeout_s=30)
    stopped = False

    def stop(*_: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    start = time.monotonic()
    n = 0
    while not stopped and (jobs == 0 or n < jobs):
        n += 1
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        q.enqueue({"n": n, "t": time.time()})
    db.close()


# -- the parent: orchestration and display -------------------------------------
def spawn(args: list[str]) -> subprocess.Popen[str]:
    # A session of its own: Ctrl-C reaches only the parent, which stops the
    # children with SIGTERM (workers hand back their claims and exit cleanly).
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "ready":
        raise SystemExit(f"demo: child {args[0]} failed to start")
    return proc


def stop(children: list[subprocess.Popen[str]]) -> None:
    """SIGTERM each child, then reap it (SIGKILL after 10 s)."""
    for p in children:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in children:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


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


def percentile(sorted_values: list[float], p: float) -> str:
    """The ``p``-th percentile in ms, as text ("–" with no samples)."""
    if not sorted_values:
        return "–"
    i = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return f"{sorted_values[i]:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--db",
        default=DEFAULT_DB,
        help=f"database file, recreated and kept afterwards (default ./{DEFAULT_DB})",
    )
    ap.add_argument(
        "--forever", action="store_true", help="keep producing until Ctrl-C (ignores --jobs)"
    )
    ap.add_argument("--jobs", type=int, default=3000, help="jobs to enqueue (default 3000)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--rate", type=float, default=600.0, help="producer jobs/s (default 600)")
    ap.add_argument("--role", choices=["worker", "producer"], help=argparse.SUPPRESS)
    ap.add_argument("--name", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.role is None and (a.jobs < 1 or a.workers < 1 or a.rate <= 0):
        ap.error("--jobs, --workers and --rate must be positive")

    if a.role == "worker":
        asyncio.run(work(a.db, a.name))
        return 0
    if a.role == "producer":
        produce(a.db, a.jobs, a.rate)
        return 0

    path = os.path.abspath(a.db)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)  # a fresh run: the counts below start at zero
    db = honker.open(path)
    db.queue(QUEUE, visibility_timeout_s=30)
    with db.transaction() as tx:
        tx.execute(SCHEMA)
    expected_dead = a.jobs // POISON_EVERY
    tty = sys.stdout.isatty()
    total = "jobs until Ctrl-C" if a.forever else f"{a.jobs} jobs"
    print(f"honker demo: {total}, {a.workers} worker processes, 1 producer at {a.rate:g} jobs/s")
    print(f"database: {path}")
    print(f"dashboard: {dashboard_command(path)}", flush=True)

    children: list[subprocess.Popen[str]] = []
    try:
        for i in range(a.workers):
            children.append(spawn(["--role", "worker", "--db", path, "--name", f"worker-{i + 1}"]))
        jobs = 0 if a.forever else a.jobs
        producer = spawn(
            ["--role", "producer", "--db", path, "--jobs", str(jobs), "--rate", str(a.rate)]
        )
    except BaseException:
        stop(children)
        raise
    workers = children
    t0 = time.monotonic()
    interrupted = False
    last_line = 0.0
    target = a.jobs - expected_dead
    try:
        while True:
            c = counts(db)
            elapsed = time.monotonic() - t0
            finished = c["done"] + c["dead"]
            progress = "until Ctrl-C" if a.forever else f"[{bar(finished / a.jobs)}]"
            line = (
                f"{progress} done {c['done']:>6}  pending {c['pending']:>5}  "
                f"running {c['busy']:>3}  dead {c['dead']:>3}  {elapsed:5.1f}s"
            )
            if tty:
                print("\r" + line, end="", flush=True)
            elif elapsed - last_line >= 1.0 or finished >= a.jobs:
                print(line, flush=True)
                last_line = elapsed
            if (
                not a.forever
                and c["done"] >= target
                and c["dead"] >= expected_dead
                and producer.poll() is not None
            ):
                break
            if not a.forever and elapsed > 300:
                print("\ndemo: timed out waiting for the workers", file=sys.stderr)
                return 1
            time.sleep(0.1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop([producer, *workers])
    elapsed = time.monotonic() - t0
    if tty:
        print()

    wake = sorted(
        r["latency_ms"]
        for r in db.query("SELECT latency_ms FROM demo_done WHERE attempts = 1 AND found_idle")
    )
    queued = sorted(
        r["latency_ms"]
        for r in db.query("SELECT latency_ms FROM demo_done WHERE attempts = 1 AND NOT found_idle")
    )
    per_worker = db.query(
        "SELECT worker, count(*) AS n FROM demo_done GROUP BY worker ORDER BY worker"
    )
    retried = db.query("SELECT count(*) AS n FROM demo_done WHERE attempts > 1")[0]["n"]
    dead = db.query("SELECT id, attempts, last_error FROM _honker_dead WHERE queue = ?", [QUEUE])
    c = counts(db)
    print()
    print("summary")
    enqueued = db.query("SELECT COALESCE(MAX(id), 0) AS n FROM _honker_live")[0]["n"]
    enqueued = max(enqueued, c["done"] + c["dead"] + c["pending"] + c["busy"])
    of = enqueued if a.forever else a.jobs
    print(f"  jobs done        {c['done']} of {of} ({retried} after a retry)")
    print(f"  dead letters     {len(dead)} (poison jobs that failed all 3 attempts)")
    print(
        f"  throughput       {c['done'] / elapsed:,.0f} jobs/s over {elapsed:.1f}s (producer paced at {a.rate:g}/s)"
    )
    print(
        f"  wake-up latency  p50 {percentile(wake, 50)} ms   p99 {percentile(wake, 99)} ms"
        f"   ({len(wake)} jobs that found an idle worker: enqueue -> job in its hand)"
    )
    print(
        f"  queueing delay   p50 {percentile(queued, 50)} ms   p99 {percentile(queued, 99)} ms"
        f"   ({len(queued)} jobs enqueued while every worker was busy)"
    )
    print("  per worker       " + ", ".join(f"{r['worker']}: {r['n']}" for r in per_worker))
    if dead:
        print(f"  a dead letter    job {dead[0]['id']}: {dead[0]['last_error']!r}")
    db.close()
    print()
    print(f"The database is kept: {path}")
    print(f"See it (and requeue the dead letters) in the dashboard:\n  {dashboard_command(path)}")
    if a.forever or interrupted:
        return 0
    ok = c["done"] == target and len(dead) == expected_dead and c["pending"] == 0
    return 0 if ok else 1


def dashboard_command(path: str) -> str:
    """The shell command that serves the dashboard of ``path``."""
    honker_bin = os.path.join(os.path.dirname(sys.executable), "honker")
    exe = honker_bin if os.path.exists(honker_bin) else f"{sys.executable} -m honker"
    return f"{os.path.relpath(exe) if exe.startswith(os.getcwd()) else exe} dashboard {path}"


if __name__ == "__main__":
    raise SystemExit(main())
