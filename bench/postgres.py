"""honker-py on PostgreSQL beside bare psycopg and Procrastinate, in one run.

A throwaway server is started for the run (tests/pg_server.py: ``initdb`` into a
temp folder, loopback, ``fsync=off`` and ``synchronous_commit=off`` for every
contender alike) and stopped at the end. Three contenders do the same work:

- **honker-py**: the public API (``q.enqueue``, ``claim_batch`` + ``ack`` /
  ``ack_batch``, ``async for job in q.claim(...)``);
- **bare psycopg**: one plain autocommit connection running honker's own SQL
  (``honker/backends/postgres/sql/queues.sql``: the SKIP LOCKED claim and the
  ack DELETE, each one statement in autocommit; the enqueue INSERT between
  BEGIN and the NOTIFY + COMMIT ending) with the same transaction boundaries
  and no Python API around it: the ratio honker/bare is what the API costs;
- **Procrastinate** (PyPI, psycopg 3 connector): ``task.defer()``;
  ``job_manager.fetch_job`` + ``finish_job(delete_job=True)`` (its worker's
  claim and finish calls; it has no batch claim); ``run_worker_async``.

Figures (each contender run alternately, best of ``--repeat``):

- enqueue, one job per transaction;
- claim 1 + ack 1, and claim 32 + ack 32, from a queue 1,000 deep;
- end to end: ``--jobs`` prefilled jobs drained by 1, 2, 4 and 8 worker
  processes (claim, a no-op, ack), from "go" to the last ack;
- wake latency: a worker process waits on an empty queue (LISTEN/NOTIFY; no
  polling fallback for honker and bare); this process calls ``enqueue()``
  (``defer()``) and notes ``time.monotonic()`` just before the call; the
  worker notes it with the job in hand (CLOCK_MONOTONIC is one clock for
  every process). p50 / p99 over ``--samples`` jobs 5-15 ms apart.

    python bench/postgres.py [--jobs N] [--cycles N] [--samples N] [--repeat R]

Goals (issue 16): claim+ack >= 0.7x bare psycopg and >= 2x Procrastinate;
end to end scales with processes until the 2 cores are busy; wake p50 <= 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from _common import alternated, claim_and_ack  # noqa: E402
from helpers import Child, spawn_child  # noqa: E402
from pg_server import PgServer  # noqa: E402

import honker  # noqa: E402
from honker.backends.postgres.backend import QUIET, SOLO  # noqa: E402
from honker.backends.postgres.sql import queries, with_limit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SYSTEMS = ("honker", "bare", "procrastinate")
DB = "bench"
PROCRASTINATE_DB = "procr"
VT = 300

# -- the contenders' setup ----------------------------------------------------


class Bench:
    """The server, a honker schema ``hk``, a schema ``bare`` with the same
    tables for bare psycopg, and a database of its own for Procrastinate."""

    def __init__(self, server: PgServer) -> None:
        self.server = server
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DB}")
            conn.execute(f"CREATE DATABASE {PROCRASTINATE_DB}")
        self.honker_url = server.url(DB, schema="hk")
        self.bare_url = server.url(DB)
        self.procr_url = server.url(PROCRASTINATE_DB)
        honker.open(self.honker_url).close()  # creates the schema
        honker.open(server.url(DB, schema="bare")).close()  # the same tables, for bare
        self.q = queries("bare")
        app = procrastinate_app(self.procr_url)
        with app.open():
            app.schema_manager.apply_schema()

    def reset(self) -> None:
        """Empty every queue (between figures)."""
        with psycopg.connect(self.bare_url, autocommit=True) as conn:
            conn.execute("TRUNCATE hk._honker_live, bare._honker_live")
        with psycopg.connect(self.procr_url, autocommit=True) as conn:
            conn.execute("DELETE FROM procrastinate_jobs")

    def fill(self, n: int, queue: str) -> None:
        """``n`` pending jobs in each contender's queue (one statement each)."""
        with psycopg.connect(self.bare_url, autocommit=True) as conn:
            for schema in ("hk", "bare"):
                conn.execute(
                    f"INSERT INTO {schema}._honker_live (queue, payload, run_at, max_attempts)"
                    f" SELECT %s, json_build_object('n', i)::text, {schema}.unixepoch(), 3"
                    " FROM generate_series(1, %s) i",
                    [queue, n],
                )
            conn.execute("VACUUM ANALYZE hk._honker_live, bare._honker_live")
        with psycopg.connect(self.procr_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                " SELECT %s, 'noop', json_build_object('n', i) FROM generate_series(1, %s) i",
                [queue, n],
            )
            conn.execute("VACUUM ANALYZE procrastinate_jobs")

    def left(self, conn: psycopg.Connection[Any], system: str) -> int:
        if system == "procrastinate":
            sql = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        else:
            sql = f"SELECT count(*) FROM {'hk' if system == 'honker' else 'bare'}._honker_live"
        return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]


def procrastinate_app(url: str) -> Any:
    import procrastinate

    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # "App in __main__" notice
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop", queue="bench")
    def noop(n: int) -> None:
        return None

    return app


class Bare:
    """Bare psycopg: honker's statements on one autocommit connection, with
    honker's transaction boundaries (BEGIN; statement; NOTIFY + COMMIT; or one
    autocommit statement where honker's write() runs one: QUIET, SOLO)."""

    def __init__(self, url: str, q: dict[str, str]) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.q = q

    def tx(self, name: str, **params: Any) -> list[tuple[Any, ...]]:
        if name in QUIET:  # one statement in autocommit, as honker's write() runs it
            return self.conn.execute(self.q[name], params).fetchall()
        if name in SOLO:  # the row and its NOTIFY in one autocommit statement, as honker's
            return self.conn.execute(self.q[SOLO[name]], params).fetchall()
        self.conn.execute("BEGIN")
        rows = self.conn.execute(self.q[name], params).fetchall()
        self.conn.execute(self.q["commit"])
        return rows

    def enqueue(self, queue: str, payload: str) -> int:
        (row,) = self.tx(
            "enqueue",
            queue=queue,
            payload=payload,
            run_at=None,
            delay=None,
            priority=0,
            max_attempts=3,
            expires=None,
        )
        return int(row[0])

    def claim(self, queue: str, worker: str, n: int) -> list[int]:
        # one autocommit statement (QUIET), its row limit a literal, as honker's
        sql = with_limit(self.q["claim"], n)
        rows = self.conn.execute(sql, {"queue": queue, "worker_id": worker, "timeout_s": VT}).fetchall()
        return [r[0] for r in rows if r[0] is not None]

    def close(self) -> None:
        self.conn.close()


class Loop:
    """One event loop kept across timed rounds (Procrastinate's API is async)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def run(self, awaitable: Any) -> Any:
        async def wait() -> Any:
            return await awaitable

        return self.runner.run(wait())

    def close(self) -> None:
        self.runner.close()


# -- enqueue ------------------------------------------------------------------


def bench_enqueue(b: Bench, n: int, repeat: int) -> dict[str, float]:
    b.reset()
    db = honker.open(b.honker_url)
    q = db.queue("enq")
    bare = Bare(b.bare_url, b.q)
    app = procrastinate_app(b.procr_url)
    app.open()
    noop = app.tasks["noop"]
    payload = json.dumps({"n": 1})

    def ours() -> None:
        for i in range(n):
            q.enqueue({"n": i})

    def plain() -> None:
        for _ in range(n):
            bare.enqueue("enq", payload)

    def peer() -> None:
        for i in range(n):
            noop.defer(n=i)

    try:
        return alternated(n, {"honker": ours, "bare": plain, "procrastinate": peer}, repeat)
    finally:
        app.close()
        bare.close()
        db.close()


# -- claim + ack --------------------------------------------------------------


def bench_claim(b: Bench, batch: int, cycles: int, repeat: int) -> dict[str, float]:
    b.reset()
    b.fill(1000 + cycles * batch * (repeat + 1), "cl")
    db = honker.open(b.honker_url)
    q = db.queue("cl", visibility_timeout_s=VT)
    bare = Bare(b.bare_url, b.q)
    fns: dict[str, Callable[[], None]] = {}

    def ours() -> None:
        claim_and_ack(q, cycles, batch)

    def plain() -> None:
        for _ in range(cycles):
            ids = bare.claim("cl", "w", batch)
            if batch == 1:
                bare.tx("ack", id=ids[0], worker_id="w")
            else:
                bare.tx("ack_batch", ids=ids, worker_id="w")

    fns = {"honker": ours, "bare": plain}
    loop = app = None
    if batch == 1:  # Procrastinate claims one job at a time
        from procrastinate import jobs as pjobs

        loop = Loop()
        app = procrastinate_app(b.procr_url)
        loop.run(app.open_async())
        jm = app.job_manager
        worker = loop.run(jm.register_worker())

        async def cycle() -> None:
            for _ in range(cycles):
                job = await jm.fetch_job(queues=["cl"], worker_id=worker)
                await jm.finish_job(job, status=pjobs.Status.SUCCEEDED, delete_job=True)

        fns["procrastinate"] = lambda: loop.run(cycle())  # type: ignore[union-attr]
    try:
        return alternated(cycles * batch, fns, repeat)
    finally:
        if loop is not None and app is not None:
            loop.run(app.close_async())
            loop.close()
        bare.close()
        db.close()


# -- end to end: worker processes ---------------------------------------------

HONKER_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    import honker

    db = honker.open(sys.argv[1] + "&pool_size=2")
    q = db.queue("e2e", visibility_timeout_s=300)

    async def main():
        jobs = q.claim(sys.argv[2])  # subscribes: its LISTEN connection opens here, not on "go"
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        async for job in jobs:
            job.ack()

    asyncio.run(main())
    """
)

BARE_WORKER = textwrap.dedent(
    """
    import sys
    import psycopg
    from honker.backends.postgres.sql import queries, with_limit

    Q = queries("bare")
    CLAIM = with_limit(Q["claim"], 1)
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    claim = {"queue": "e2e", "worker_id": sys.argv[2], "timeout_s": 300}
    print("ready", flush=True)
    sys.stdin.readline()
    while True:  # the claim and the ack each one statement in autocommit, as honker runs them
        (row,) = conn.execute(CLAIM, claim).fetchall()
        if row[0] is None:
            break
        conn.execute(Q["ack"], {"id": row[0], "worker_id": sys.argv[2]}).fetchall()
    print("empty", flush=True)
    sys.stdin.readline()
    """
)

PROCRASTINATE_WORKER = textwrap.dedent(
    """
    import asyncio, logging, sys
    sys.path.insert(0, "bench")
    from postgres import procrastinate_app

    app = procrastinate_app(sys.argv[1])

    async def main():
        async with app.open_async():
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            await app.run_worker_async(
                queues=["e2e"], wait=False, concurrency=1, delete_jobs="successful",
                install_signal_handlers=False,
            )
        print("empty", flush=True)

    asyncio.run(main())
    sys.stdin.readline()
    """
)


def _workers(b: Bench, system: str, procs: int) -> list[Child]:
    if system == "honker":
        return [spawn_child(HONKER_WORKER, b.honker_url, f"w{i}") for i in range(procs)]
    if system == "bare":
        return [spawn_child(BARE_WORKER, b.bare_url, f"w{i}") for i in range(procs)]
    return [spawn_child(PROCRASTINATE_WORKER, b.procr_url) for _ in range(procs)]


def drain_once(b: Bench, system: str, procs: int, jobs: int) -> float:
    """Jobs per second of ``procs`` worker processes draining ``jobs`` jobs."""
    b.reset()
    b.fill(jobs, "e2e")
    workers = _workers(b, system, procs)
    try:
        with psycopg.connect(b.bare_url if system != "procrastinate" else b.procr_url) as conn:
            conn.autocommit = True
            t0 = time.monotonic()
            for w in workers:
                w.send("go")
            while b.left(conn, system) > 0:
                time.sleep(0.002)  # the observer's tick
            return jobs / (time.monotonic() - t0)
    finally:
        for w in workers:
            w.kill()


def bench_e2e(b: Bench, jobs: int, repeat: int, procs_list: list[int]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for procs in procs_list:
        best = dict.fromkeys(SYSTEMS, 0.0)
        for _ in range(repeat):
            for system in SYSTEMS:
                best[system] = max(best[system], drain_once(b, system, procs, jobs))
        out[procs] = best
        print(f"  e2e {procs} procs: " + ", ".join(f"{k} {v:,.0f}" for k, v in best.items()))
    return out


# -- wake latency -------------------------------------------------------------

HONKER_WAITER = textwrap.dedent(
    """
    import asyncio, sys, time
    import honker

    db = honker.open(sys.argv[1])
    q = db.queue("wake")

    async def main():
        jobs = q.claim("waiter", idle_poll_s=None)
        first = asyncio.create_task(anext(jobs))
        await asyncio.sleep(0.2)  # the first claim found nothing: it waits on LISTEN
        print("ready", flush=True)
        job = await first
        while True:
            print(f"got {job.payload['n']} {time.monotonic()}", flush=True)
            job.ack()
            job = await anext(jobs)

    asyncio.run(main())
    """
)

BARE_WAITER = textwrap.dedent(
    """
    import json, sys, time
    import psycopg
    from honker.backends.postgres.sql import queries, with_limit

    Q = queries("bare")
    CLAIM = with_limit(Q["claim"], 1)
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    listen = psycopg.connect(sys.argv[1], autocommit=True)
    listen.execute("LISTEN honker_changes_bare")
    claim = {"queue": "wake", "worker_id": "waiter", "timeout_s": 300}
    print("ready", flush=True)
    while True:  # the claim and the ack each one statement in autocommit, as honker runs them
        (row,) = conn.execute(CLAIM, claim).fetchall()
        if row[0] is None:
            for _ in listen.notifies(timeout=5.0, stop_after=1):
                pass
            continue
        print(f"got {json.loads(row[2])['n']} {time.monotonic()}", flush=True)
        conn.execute(Q["ack"], {"id": row[0], "worker_id": "waiter"}).fetchall()
    """
)

PROCRASTINATE_WAITER = textwrap.dedent(
    """
    import asyncio, sys, time
    sys.path.insert(0, "bench")
    import procrastinate
    from postgres import procrastinate_app

    app = procrastinate_app(sys.argv[1])

    @app.task(name="wake", queue="wake")
    def wake(n):
        print(f"got {n} {time.monotonic()}", flush=True)

    async def main():
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(
                queues=["wake"], concurrency=1, delete_jobs="successful",
                install_signal_handlers=False,
            ))
            await asyncio.sleep(1.0)  # connected, LISTENing, first fetch found nothing
            print("ready", flush=True)
            await worker

    asyncio.run(main())
    """
)


def wake_once(b: Bench, system: str, samples: int, rng: random.Random) -> list[float]:
    """Milliseconds from before the enqueue call to the job in the worker's hand."""
    b.reset()
    if system == "honker":
        waiter = spawn_child(HONKER_WAITER, b.honker_url)
        db = honker.open(b.honker_url)
        q = db.queue("wake")
        send: Callable[[int], object] = lambda n: q.enqueue({"n": n})  # noqa: E731
        close: Callable[[], object] = db.close
    elif system == "bare":
        waiter = spawn_child(BARE_WAITER, b.bare_url)
        bare = Bare(b.bare_url, b.q)
        send = lambda n: bare.enqueue("wake", json.dumps({"n": n}))  # noqa: E731
        close = bare.close
    else:
        waiter = spawn_child(PROCRASTINATE_WAITER, b.procr_url)
        app = procrastinate_app(b.procr_url)

        @app.task(name="wake", queue="wake")
        def wake(n: int) -> None:
            return None

        app.open()
        send = lambda n: wake.defer(n=n)  # noqa: E731
        close = app.close
    gaps: list[float] = []
    try:
        for n in range(samples):
            time.sleep(rng.uniform(0.005, 0.015))  # the pause between jobs being measured
            t0 = time.monotonic()
            send(n)
            _, got, t1 = waiter.readline(timeout=10).split()
            assert int(got) == n, (got, n)
            gaps.append((float(t1) - t0) * 1000)
    finally:
        waiter.kill()
        close()
    return gaps


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def bench_wake(b: Bench, samples: int, repeat: int) -> dict[str, dict[str, float]]:
    rng = random.Random(16)
    got: dict[str, list[float]] = {s: [] for s in SYSTEMS}
    for _ in range(repeat):
        for system in SYSTEMS:
            got[system] += wake_once(b, system, samples, rng)
    return {
        s: {"p50_ms": statistics.median(v), "p99_ms": pct(v, 99), "samples": len(v)}
        for s, v in got.items()
    }


# -- the table ----------------------------------------------------------------


def fig(figure: str, unit: str, r: dict[str, float]) -> dict[str, object]:
    row: dict[str, object] = {"figure": figure, "unit": unit}
    for s in SYSTEMS:
        row[s] = r.get(s)
    row["vs_bare"] = r["honker"] / r["bare"]
    peer = r.get("procrastinate")
    row["vs_procrastinate"] = r["honker"] / peer if peer else None
    return row


def table(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "| figure | honker-py | bare psycopg | honker ÷ bare | Procrastinate | honker ÷ Procrastinate |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = []
        for key in ("honker", "bare", "vs_bare", "procrastinate", "vs_procrastinate"):
            v = r[key]
            if v is None:
                cells.append("–")
            elif key.startswith("vs_"):
                cells.append(f"{v:.2f}×")
            elif r["unit"] == "ms":
                cells.append(f"{v:.2f} ms")
            else:
                cells.append(f"{v:,.0f}")
        unit = "" if r["unit"] == "ms" else f" ({r['unit']})"
        lines.append(f"| {r['figure']}{unit} | " + " | ".join(cells) + " |")
    return lines


def goals(rows: list[dict[str, object]], e2e: dict[int, dict[str, float]]) -> list[str]:
    by = {str(r["figure"]): r for r in rows}
    c1 = by["claim 1 + ack 1"]
    out = [
        f"- claim+ack: {c1['vs_bare']:.2f}× bare psycopg (goal ≥ 0.7×), "
        f"{c1['vs_procrastinate']:.2f}× Procrastinate (goal ≥ 2×)",
    ]
    if e2e:
        base = e2e[min(e2e)]["honker"]
        scale = ", ".join(f"{p}: {v['honker'] / base:.2f}×" for p, v in e2e.items())
        out.append(f"- end to end, honker-py speed-up over 1 process: {scale} (2 cores)")
    wake = by.get("wake p50")
    if wake:
        out.append(f"- wake p50 {wake['honker']:.2f} ms (goal ≤ 2 ms)")
    return out


@contextmanager
def throwaway_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server.start()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4000, help="jobs per end-to-end run")
    ap.add_argument("--enqueues", type=int, default=2000)
    ap.add_argument("--cycles", type=int, default=2000, help="claim+ack cycles (batch 1)")
    ap.add_argument("--samples", type=int, default=100, help="wake samples per round")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--procs", default="1,2,4,8")
    ap.add_argument("--only", help="comma-separated of enqueue,claim,e2e,wake")
    a = ap.parse_args(argv)
    parts = set((a.only or "enqueue,claim,e2e,wake").split(","))
    rows: list[dict[str, object]] = []
    e2e: dict[int, dict[str, float]] = {}
    with throwaway_server() as server:
        b = Bench(server)
        if "enqueue" in parts:
            rows.append(fig("enqueue, 1 per transaction", "jobs/s", bench_enqueue(b, a.enqueues, a.repeat)))
            print(f"  enqueue: {rows[-1]}")
        if "claim" in parts:
            rows.append(fig("claim 1 + ack 1", "jobs/s", bench_claim(b, 1, a.cycles, a.repeat)))
            print(f"  claim 1: {rows[-1]}")
            rows.append(
                fig("claim 32 + ack 32", "jobs/s", bench_claim(b, 32, max(20, a.cycles // 16), a.repeat))
            )
            print(f"  claim 32: {rows[-1]}")
        if "e2e" in parts:
            e2e = bench_e2e(b, a.jobs, a.repeat, [int(p) for p in a.procs.split(",")])
            for procs, r in e2e.items():
                rows.append(fig(f"end to end, {procs} worker process{'es' if procs > 1 else ''}", "jobs/s", r))
        if "wake" in parts:
            w = bench_wake(b, a.samples, a.repeat)
            for key in ("p50_ms", "p99_ms"):
                r = {s: w[s][key] for s in SYSTEMS}
                row = fig(f"wake {key[:3]}", "ms", r)
                # Lower is better: the ratios say how many times faster honker is.
                row["vs_bare"] = r["bare"] / r["honker"]
                row["vs_procrastinate"] = r["procrastinate"] / r["honker"]
                rows.append(row)
    lines = table(rows)
    print("\n" + "\n".join(lines))
    if any(r["figure"] == "claim 1 + ack 1" for r in rows):
        print("\n" + "\n".join(goals(rows, e2e)))
    RESULTS.mkdir(exist_ok=True)
    meta = {"cpus": os.cpu_count(), "postgres": str(server.bin), "python": sys.version.split()[0]}
    (RESULTS / "postgres.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
