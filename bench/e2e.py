"""End to end: 1 producer and 2 worker processes on one file, two ways.

- **Fixed N**: the producer enqueues N jobs, one per transaction, as fast as it
  can; the figure is N divided by the time from its start to the last ack.
- **Fixed window**: the producer enqueues flat out for ``--window-s`` seconds;
  the figure is the jobs acked inside the window per second, and the mean
  enqueue -> ack latency of those jobs (which grows with the backlog, so it
  compares systems only within one run).

Workers and producer, per system (each run alternately, twice, best kept):

- honker-py, three consumer styles over ``q.claim()``: a plain ``async for``;
  ``await asyncio.wait_for(it.__anext__(), 5)`` per job; and ``async with
  asyncio.timeout(5): await anext(it)`` per job. The producer calls
  ``q.enqueue()``.
- bare sqlite3 running honker's own SQL (``same SQL``): the claim UPDATE and ack
  DELETE in ``BEGIN IMMEDIATE`` transactions; an idle worker sleeps 1 ms.
- the ideal minimal queue (bench/sql/ideal.sql): ``BEGIN IMMEDIATE`` ...
  ``COMMIT`` around each operation, a claim that is one ``UPDATE ...
  RETURNING`` on the same partial index, and idle workers that poll ``PRAGMA
  data_version`` every 1 ms before claiming again.

The jobs that stop the workers are enqueued with a higher priority, so they
are claimed next even behind a backlog.

    python bench/e2e.py [--jobs N] [--window-s S] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from _common import ROOT, bare_connect, print_rows, row, save, tmp_db

STYLES = ("plain", "wait_for", "timeout")

# argv: path, ROOT, worker id, style, window start (unix s, or 0 for fixed N), window end
WORKER_OURS = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[2])
import honker
db = honker.open(sys.argv[1]); q = db.queue("q")
wid, style, t0, t1 = sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
done = [0, 0.0]
def handle(job):
    job.ack()
    p = job.payload
    if p["n"] < 0:
        return True
    now = time.time()
    if t0 <= now <= t1:
        done[0] += 1
        done[1] += now - p["t"]
    return False
async def main():
    it = q.claim(wid)
    print("ready", flush=True)
    if style == "plain":
        async for job in it:
            if handle(job):
                break
    elif style == "wait_for":
        while True:
            job = await asyncio.wait_for(it.__anext__(), 5)
            if handle(job):
                break
    else:
        while True:
            async with asyncio.timeout(5):
                job = await anext(it)
            if handle(job):
                break
asyncio.run(main())
import resource; ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps([*done, ru.ru_utime + ru.ru_stime]), flush=True)
"""

WORKER_BARE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[2]); sys.path.insert(0, sys.argv[2] + "/bench")
from _common import IDEAL, bare_connect
from honker.backends.sqlite.sql import Q
conn = bare_connect(sys.argv[1], with_schema=False)
wid, kind, t0, t1 = sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
ideal = kind == "ideal"
claim, ack = (IDEAL if ideal else Q)["claim"], (IDEAL if ideal else Q)["ack"]
args = ("q", wid, 300, 1) if ideal else ("q", wid, 1, 300)
done = [0, 0.0]
print("ready", flush=True)
while True:
    if ideal:
        seen = conn.execute("PRAGMA data_version").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    rows = conn.execute(claim, args).fetchall()
    conn.execute("COMMIT")
    if not rows:
        if ideal:  # wait for another connection's commit, polling every 1 ms
            while conn.execute("PRAGMA data_version").fetchone()[0] == seen:
                time.sleep(0.001)
        else:
            time.sleep(0.001)
        continue
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(ack, (rows[0][0], wid)).fetchall()
    conn.execute("COMMIT")
    p = json.loads(rows[0][2])
    if p["n"] < 0:
        break
    now = time.time()
    if t0 <= now <= t1:
        done[0] += 1
        done[1] += now - p["t"]
import resource; ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps([*done, ru.ru_utime + ru.ru_stime]), flush=True)
"""


def spawn_workers(kind: str, path: str, window: tuple[float, float]) -> list[subprocess.Popen[str]]:
    code = WORKER_OURS if kind in STYLES else WORKER_BARE
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, path, str(ROOT), f"w{i}", kind, *map(str, window)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for w in workers:
        assert w.stdout is not None
        if w.stdout.readline().strip() != "ready":
            raise RuntimeError("e2e worker did not start")
    return workers


def producer(kind: str, path: str) -> tuple[object, object]:
    """(enqueue(n, priority), close) for the system ``kind``."""
    if kind in STYLES:
        sys.path.insert(0, str(ROOT))
        import honker

        db = honker.open(path)
        q = db.queue("q")
        return (lambda n, prio=0: q.enqueue({"n": n, "t": time.time()}, priority=prio)), db.close
    from _common import IDEAL

    from honker.backends.sqlite.sql import Q

    conn = bare_connect(path, with_schema=False)
    ideal = kind == "ideal"
    sql = IDEAL["enqueue"] if ideal else Q["enqueue"]

    def enqueue(n: int, prio: int = 0) -> None:
        payload = json.dumps({"n": n, "t": time.time()})
        conn.execute("BEGIN IMMEDIATE")
        if ideal:
            conn.execute(sql, ("q", payload, prio))
        else:
            conn.execute(sql, ("q", payload, None, None, prio, 3, None))
        conn.execute("COMMIT")

    return enqueue, conn.close


def run(kind: str, jobs: int, window_s: float) -> tuple[float, float | None, float]:
    """Fixed N (``window_s`` 0): (jobs/s, None, cpu); else (jobs/s in the window, mean
    latency s, cpu), where cpu is the CPU seconds per job of the producer and both workers."""
    path = tmp_db()
    bare_connect(path).close()
    enqueue, close = producer(kind, path)
    t0 = time.time() + 0.3  # the workers start meanwhile
    window = (t0, t0 + window_s) if window_s else (0.0, 0.0)
    workers = spawn_workers(kind, path, window)
    try:
        while time.time() < t0:
            time.sleep(0.001)
        start, cpu0 = time.perf_counter(), time.process_time()
        n = 0
        if window_s:
            while time.time() < window[1]:
                enqueue(n)  # type: ignore[operator]
                n += 1
        else:
            for n in range(jobs):
                enqueue(n)  # type: ignore[operator]
        # In a window, the jobs that stop the workers jump the backlog.
        for _ in workers:
            enqueue(-1, 10 if window_s else 0)  # type: ignore[operator]
        cpu = time.process_time() - cpu0
        counts = reap(workers)
        elapsed = time.perf_counter() - start
    finally:
        for w in workers:  # on an error, the workers would wait for ever
            if w.poll() is None:
                w.kill()
                w.wait()
        close()  # type: ignore[operator]
    cpu = (cpu + sum(c[2] for c in counts)) / max(1, n + 1)
    if not window_s:
        return jobs / elapsed, None, cpu
    done = sum(c[0] for c in counts)
    return done / window_s, sum(c[1] for c in counts) / max(1, done), cpu


def reap(workers: list[subprocess.Popen[str]]) -> list[list[float]]:
    """Wait for every worker; a worker that died is an error, not a figure."""
    out = []
    for w in workers:
        assert w.stdout is not None
        out.append(json.loads(w.stdout.readline() or "[0, 0, 0]"))
        if w.wait() != 0:
            raise RuntimeError(f"e2e worker exited with {w.returncode}")
        w.stdout.close()
    return out


KINDS = (*STYLES, "bare", "ideal")
LABELS = {
    "plain": "async for",
    "wait_for": "wait_for per job",
    "timeout": "asyncio.timeout per job",
    "bare": "same SQL",
    "ideal": "ideal queue",
}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--window-s", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kinds", default=",".join(KINDS))
    a = ap.parse_args(argv)
    kinds = a.kinds.split(",")
    fixed: dict[str, float] = dict.fromkeys(kinds, 0.0)
    win: dict[str, tuple[float, float]] = dict.fromkeys(kinds, (0.0, 0.0))
    cpu: dict[str, float] = dict.fromkeys(kinds, float("inf"))
    for _ in range(a.rounds):  # every system in turn, each round
        for kind in kinds:
            rate, _, cpu_n = run(kind, a.jobs, 0)
            fixed[kind] = max(fixed[kind], rate)
            rate, lat, _ = run(kind, a.jobs, a.window_s)
            if rate > win[kind][0]:
                win[kind] = (rate, lat or 0.0)
            cpu[kind] = min(cpu[kind], cpu_n)
    rows = []
    for style in (s for s in STYLES if s in kinds):
        rows.append(
            row(
                f"end to end, fixed N, {LABELS[style]}",
                fixed[style],
                fixed.get("bare", float("nan")),
                "jobs/s",
                ideal=fixed.get("ideal"),
            )
        )
        r = row(
            f"end to end, {a.window_s:g} s window, {LABELS[style]}",
            win[style][0],
            win.get("bare", (float("nan"), 0))[0],
            "jobs/s",
            ideal=win.get("ideal", (None, 0))[0],
        )
        r["latency_ms"] = win[style][1] * 1000
        r["bare_latency_ms"] = win.get("bare", (0, 0.0))[1] * 1000
        r["ideal_latency_ms"] = win.get("ideal", (0, 0.0))[1] * 1000
        rows.append(r)
    print_rows(rows)
    print(
        "  CPU per job, fixed N (producer + both workers, µs): "
        + ", ".join(f"{LABELS.get(k, k)} {cpu[k] * 1e6:,.0f}" for k in kinds)
    )
    for r in rows:
        if "latency_ms" in r:
            print(
                f"  {r['figure']}: mean enqueue->ack {r['latency_ms']:,.0f} ms "
                f"(same SQL {r['bare_latency_ms']:,.0f} ms, ideal {r['ideal_latency_ms']:,.0f} ms)"
            )
    save("e2e", rows)
    return rows


if __name__ == "__main__":
    main()
