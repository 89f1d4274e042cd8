"""How fast the dashboard's pages render with a million jobs in the file.

Builds a database with ``--jobs`` jobs (default 1,000,000: 90 % live in three
queues, pending, delayed and processing, and 10 % dead), starts a real
``honker dashboard`` process on it, and times full HTTP requests from this
process (median and p90 of ``--repeat`` requests):

- the overview "cold" (a commit just before each request: the app serves
  its last read, under 2 s old, and starts a new one that the open pages
  fetch when it is done), "warm" (no commit since the last read) and "full
  read" (a commit and nothing read in the last 2 s: the request waits for a
  whole count);
- the dead-letter page of one queue (counts of that queue plus a page of 50),
  the queue page (all states) and ``/metrics``.

The baseline, in the same run, is bare sqlite3 running the plain statements
that give the same numbers: GROUP BY counts over the whole live and dead
tables for the overview, the queue's counts plus its first 50 dead rows for the
dead-letter page. "speed vs bare SQL" is the bare time over the page's time
(above 1: the page, HTTP and HTML included, is faster than the plain SQL).

    python bench/dashboard.py [--jobs N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

from _common import RESULTS, ROOT, tmp_db

import honker

QUEUES = ("emails", "reports", "webhooks")


def build(path: str, jobs: int) -> None:
    honker.open(path).close()
    live, dead = jobs * 9 // 10, jobs // 10
    conn = sqlite3.connect(path)
    series = "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < ?) "
    conn.execute("BEGIN")
    conn.execute(
        series + "INSERT INTO _honker_live "
        "(queue, payload, state, priority, run_at, worker_id, claim_expires_at, attempts, "
        " max_attempts, created_at) "
        "SELECT CASE v % 3 WHEN 0 THEN 'emails' WHEN 1 THEN 'reports' ELSE 'webhooks' END, "
        "json_object('user_id', v % 1000, 'n', v), "
        "CASE WHEN v % 10 = 0 THEN 'processing' ELSE 'pending' END, v % 5, "
        "unixepoch() + CASE WHEN v % 7 = 0 THEN 3600 ELSE -(v % 600) END, "
        "CASE WHEN v % 10 = 0 THEN 'w' END, CASE WHEN v % 10 = 0 THEN unixepoch() + 300 END, "
        "0, 3, unixepoch() FROM s",
        (live,),
    )
    conn.execute(
        series + "INSERT INTO _honker_dead "
        "(queue, payload, priority, run_at, attempts, max_attempts, last_error, created_at, "
        " died_at) "
        "SELECT CASE v % 3 WHEN 0 THEN 'emails' WHEN 1 THEN 'reports' ELSE 'webhooks' END, "
        "json_object('user_id', v % 1000), 0, unixepoch(), 3, 3, 'boom', unixepoch(), "
        "unixepoch() FROM s",
        (dead,),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


SERVER: list[str] = []  # the overview's Server-Timing headers


def timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        resp.read()
        assert resp.status == 200
        if resp.headers.get("Server-Timing"):
            SERVER.append(resp.headers["Server-Timing"])
    return (time.perf_counter() - start) * 1000


def bare_overview(path: str) -> float:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    start = time.perf_counter()
    conn.execute("BEGIN")
    now = conn.execute("SELECT unixepoch()").fetchone()[0]
    conn.execute(
        "SELECT queue, SUM(state = 'pending' AND run_at <= ?1), SUM(state = 'processing'), "
        "SUM(state = 'pending' AND run_at > ?1), MIN(CASE WHEN state = 'pending' THEN run_at END) "
        "FROM _honker_live GROUP BY queue",
        (now,),
    ).fetchall()
    conn.execute("SELECT queue, COUNT(*) FROM _honker_dead GROUP BY queue").fetchall()
    conn.execute("COMMIT")
    took = (time.perf_counter() - start) * 1000
    conn.close()
    return took


def bare_dead_page(path: str) -> float:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute(
        "SELECT SUM(state = 'pending' AND run_at <= unixepoch()), SUM(state = 'processing'), "
        "SUM(state = 'pending' AND run_at > unixepoch()) FROM _honker_live WHERE queue = 'emails'"
    ).fetchall()
    conn.execute("SELECT COUNT(*) FROM _honker_dead WHERE queue = 'emails'").fetchall()
    conn.execute(
        "SELECT * FROM _honker_dead WHERE queue = 'emails' ORDER BY id LIMIT 50"
    ).fetchall()
    conn.execute("COMMIT")
    took = (time.perf_counter() - start) * 1000
    conn.close()
    return took


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args()

    path = tmp_db("dashboard.db")
    t0 = time.perf_counter()
    build(path, a.jobs)
    print(f"built {a.jobs:,} jobs in {time.perf_counter() - t0:.1f} s: {path}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "honker", "dashboard", path, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)/", line)
    assert match, line
    url = match.group(1)
    db = honker.open(path)
    nudge = db.queue("_bench_nudge")
    try:
        timed_get(url + "/static/app.css")
        runs: dict[str, list[float]] = {
            k: []
            for k in (
                "overview, cold",
                "overview, warm",
                "overview, full read",
                "dead-letter page",
                "queue page (all states)",
                "/metrics",
                "bare: overview counts",
                "bare: dead-letter page",
            )
        }
        cold_server: list[str] = []
        for _ in range(a.repeat):
            # a commit, then time for the watcher's tick: the next overview recounts
            nudge.cancel(nudge.enqueue({}))
            time.sleep(0.05)
            runs["overview, cold"].append(timed_get(url + "/"))
            runs["overview, warm"].append(timed_get(url + "/"))
            runs["dead-letter page"].append(timed_get(url + "/queue?name=emails&state=dead"))
            runs["queue page (all states)"].append(timed_get(url + "/queue?name=emails"))
            runs["/metrics"].append(timed_get(url + "/metrics"))
            runs["bare: overview counts"].append(bare_overview(path))
            runs["bare: dead-letter page"].append(bare_dead_page(path))
        for _ in range(max(3, a.repeat // 3)):
            # the last read older than the app serves stale (2 s), and a commit:
            # the request waits for a whole count
            time.sleep(2.2)
            nudge.cancel(nudge.enqueue({}))
            time.sleep(0.05)
            runs["overview, full read"].append(timed_get(url + "/"))
            cold_server.append(SERVER[-1])
    finally:
        db.close()
        proc.terminate()
        proc.wait(timeout=30)

    rows = [{"page": k, **summary(v)} for k, v in runs.items()]
    by_page = {str(r["page"]): r["median_ms"] for r in rows}
    bare = {
        "overview, cold": by_page["bare: overview counts"],
        "overview, full read": by_page["bare: overview counts"],
        "dead-letter page": by_page["bare: dead-letter page"],
    }
    print(f"\n{a.jobs:,} jobs ({a.jobs * 9 // 10:,} live in 3 queues, {a.jobs // 10:,} dead)")
    print(f"{'page':28s} {'median ms':>10s} {'p90 ms':>8s} {'speed vs bare SQL':>18s}")
    for r in rows:
        ratio = bare.get(str(r["page"]))
        shown = f"{ratio / r['median_ms']:.1f}×" if ratio else ""
        print(f"{r['page']:28s} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} {shown:>18s}")
    reads = sorted(float(t.split("read;dur=")[1].split(",")[0]) for t in cold_server)
    renders = sorted(float(t.split("render;dur=")[1]) for t in cold_server)
    print(
        f"\nfull-read overview inside the server (Server-Timing): read median "
        f"{statistics.median(reads):.1f} ms, render median {statistics.median(renders):.1f} ms"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps({"jobs": a.jobs, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
