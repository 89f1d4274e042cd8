"""Soak test: every kind of honker process on one file for minutes at a time.

Usage::

    .venv/bin/python soak/run.py --minutes 10          # the default run
    .venv/bin/python soak/run.py --seconds 40          # the short run the tests use

It starts, as separate processes, producers (each transaction inserts a
business row, enqueues a job, publishes a stream event and every tenth time
notifies), workers (each ack commits with its business row), a listener, a
stream consumer and a scheduler leader (an ``@every 1s`` schedule). Every
``--report-every`` seconds it prints throughput, the backlog, the -wal size,
and each process's RSS, open descriptors and threads (from /proc). At the end
it stops everything in order and checks:

- no job lost (every produced job done) and none done twice;
- the queue drained and nothing dead-lettered;
- the listener got every notification, the consumer every event;
- every scheduler boundary fired exactly once;
- no process's RSS, descriptors or threads grew past the tolerances between
  the end of the warm-up and the end of the run;
- ``PRAGMA integrity_check`` is ok.

It exits 0 if all hold, 1 otherwise (each failure is printed as ``FAIL ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import honker  # noqa: E402  (after the path set-up, so a checkout runs without installing)

CHANNEL = "soak"
STREAM = "soak-events"
JOBS = "soak-jobs"
TICKS = "soak-ticks"
STOP_WAIT_S = 120.0


# ---------------------------------------------------------------------------
# The child processes. Each prints "ready", works until a line arrives on
# stdin, then prints one JSON line starting with "final " and exits 0.
# ---------------------------------------------------------------------------


def _stop_flag() -> threading.Event:
    flag = threading.Event()

    def wait() -> None:
        sys.stdin.readline()
        flag.set()

    threading.Thread(target=wait, name="soak-stdin", daemon=True).start()
    return flag


def _final(**fields: Any) -> None:
    print("final " + json.dumps(fields), flush=True)


def role_producer(path: str, index: int, rate: float) -> None:
    db = honker.open(path)
    q = db.queue(JOBS)
    events = db.stream(STREAM)
    stop = _stop_flag()
    print("ready", flush=True)
    n = 0
    start = time.monotonic()
    while not stop.is_set():
        with db.transaction() as tx:
            job_id = q.enqueue({"producer": index, "n": n}, tx=tx)
            tx.execute("INSERT INTO soak_produced (job_id) VALUES (?)", [job_id])
            events.publish({"job": job_id}, tx=tx)
            if n % 10 == 0:
                tx.notify(CHANNEL, job_id)
        n += 1
        if rate > 0:  # pacing, not synchronisation: keep to the requested rate
            ahead = start + n / rate - time.monotonic()
            if ahead > 0:
                stop.wait(ahead)
    db.close()
    _final(produced=n)


def role_worker(path: str, index: int) -> None:
    db = honker.open(path)
    q = db.queue(JOBS, visibility_timeout_s=30)
    wid = f"soak-worker-{index}"
    stop = _stop_flag()
    print("ready", flush=True)
    done = 0

    async def main() -> None:
        nonlocal done
        jobs = q.claim(wid, idle_poll_s=0.2)
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(stopped.set)),
            name="soak-stop",
            daemon=True,
        ).start()
        halt = asyncio.ensure_future(stopped.wait())
        try:
            while True:
                # A task: asyncio.wait refuses the claim iterator's awaitable,
                # which is also a coroutine (honker/_waiting.py Next).
                nxt = asyncio.create_task(anext(jobs))
                await asyncio.wait([nxt, halt], return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    await asyncio.gather(nxt, return_exceptions=True)
                    return
                job = nxt.result()
                with db.transaction() as tx:
                    (row,) = tx.query("SELECT honker_ack(?, ?) AS ok", [job.id, wid])
                    if row["ok"]:
                        tx.execute(
                            "INSERT INTO soak_done (job_id, worker) VALUES (?, ?)", [job.id, wid]
                        )
                        done += 1
        finally:
            halt.cancel()
            jobs.close()

    asyncio.run(main())
    db.close()
    _final(done=done)


def role_listener(path: str) -> None:
    db = honker.open(path)
    stop = _stop_flag()
    # Counters, not lists: the soak's own bookkeeping must not grow the RSS.
    # Ids arrive in increasing order, so a repeat is one not above the last.
    seen = {"received": 0, "distinct": 0, "last": 0}

    async def main() -> None:
        listener = db.listen(CHANNEL, fallback_poll_s=1.0)
        print("ready", flush=True)
        while not (stop.is_set() and seen["last"] >= _newest(db, NEWEST_NOTE, CHANNEL)):
            try:
                note = await asyncio.wait_for(anext(listener), 0.5)
            except TimeoutError:
                continue
            _count_in_order(seen, note.id)
        listener.close()

    asyncio.run(main())
    db.close()
    _final(received=seen["received"], distinct=seen["distinct"])


# Once told to stop, the listener and the consumer read on until they have
# seen the newest row: the controller stops them after the producers.
NEWEST_NOTE = "SELECT COALESCE(MAX(id), 0) AS n FROM _honker_notifications WHERE channel = ?"
NEWEST_EVENT = "SELECT COALESCE(MAX(offset), 0) AS n FROM _honker_stream WHERE topic = ?"


def _newest(db: honker.Database, sql: str, name: str) -> int:
    return int(db.query(sql, [name])[0]["n"])


def _count_in_order(seen: dict[str, int], key: int) -> None:
    seen["received"] += 1
    if key > seen["last"]:
        seen["distinct"] += 1
        seen["last"] = key


def role_consumer(path: str) -> None:
    db = honker.open(path)
    stop = _stop_flag()
    seen = {"received": 0, "distinct": 0, "last": 0}

    async def main() -> None:
        events = db.stream(STREAM).subscribe(consumer="soak-consumer", save_every_n=100)
        print("ready", flush=True)
        while not (stop.is_set() and seen["last"] >= _newest(db, NEWEST_EVENT, STREAM)):
            try:
                event = await asyncio.wait_for(anext(events), 0.5)
            except TimeoutError:
                continue
            _count_in_order(seen, event.offset)
        events.close()

    asyncio.run(main())
    db.close()
    _final(received=seen["received"], distinct=seen["distinct"])


def role_scheduler(path: str) -> None:
    db = honker.open(path)
    stop = _stop_flag()

    async def main() -> None:
        sched = honker.Scheduler(db)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)),
            name="soak-stop",
            daemon=True,
        ).start()
        print("ready", flush=True)
        await sched.run(done, standby=True)

    asyncio.run(main())
    db.close()
    _final(stopped=True)


# ---------------------------------------------------------------------------
# The controller.
# ---------------------------------------------------------------------------


class Proc:
    """A child process whose stdout lines are read on a background thread."""

    def __init__(self, name: str, role_args: list[str]) -> None:
        self.name = name
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.popen = subprocess.Popen(
            [sys.executable, __file__, *role_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        self.final: dict[str, Any] | None = None
        self.samples: list[tuple[float, int, int, int]] = []  # (t, rss_kb, fds, threads)

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _pump_err(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.stderr.append(line)

    def expect(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.name}: no {prefix!r} within {timeout}s") from None
            if line is None:
                raise RuntimeError(
                    f"{self.name} exited ({self.popen.wait()}) before {prefix!r}:\n"
                    + "".join(self.stderr[-20:])
                )
            if line.startswith(prefix):
                return line

    def stop(self, timeout: float = 60.0) -> dict[str, Any]:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write("stop\n")
            self.popen.stdin.flush()
        except BrokenPipeError:
            pass
        line = self.expect("final ", timeout)
        self.final = json.loads(line[len("final ") :])
        self.popen.wait(timeout)
        return self.final

    def sample(self, t: float) -> tuple[float, int, int, int] | None:
        pid = self.popen.pid
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss_kb = int(fields["VmRSS"].split()[0])
        threads = int(fields["Threads"])
        s = (t, rss_kb, fds, threads)
        self.samples.append(s)
        return s

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


def _count(conn: sqlite3.Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def _setup(path: str) -> int:
    db = honker.open(path)
    db.queue(JOBS, visibility_timeout_s=30)
    db.queue(TICKS)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS soak_produced (job_id INTEGER PRIMARY KEY)")
        tx.execute("CREATE TABLE IF NOT EXISTS soak_done (job_id INTEGER NOT NULL, worker TEXT)")
    sched = honker.Scheduler(db)
    sched.add(name="soak-tick", queue=TICKS, schedule=honker.every_s(1))
    (initial,) = [t["next_fire_at"] for t in sched.list() if t["name"] == "soak-tick"]
    db.close()
    return int(initial)


def _fmt_mb(kb: int) -> str:
    return f"{kb / 1024:.1f}MB"


def run(args: argparse.Namespace) -> int:
    duration = args.seconds if args.seconds is not None else args.minutes * 60
    workdir = None
    if args.db:
        path = args.db
    else:
        workdir = tempfile.mkdtemp(prefix="honker-soak-")
        path = os.path.join(workdir, "soak.db")
    initial_fire = _setup(path)
    print(
        f"soak: {duration:.0f}s on {path}: {args.producers} producers "
        f"({f'{args.rate:g} jobs/s each' if args.rate > 0 else 'unpaced'}), "
        f"{args.workers} workers, 1 listener, 1 stream consumer, 1 scheduler",
        flush=True,
    )
    procs: dict[str, Proc] = {}
    failures: list[str] = []
    try:
        for name in ("listener", "consumer", "scheduler"):
            procs[name] = Proc(name, ["--role", name, "--db", path])
        for i in range(args.workers):
            procs[f"worker-{i}"] = Proc(
                f"worker-{i}", ["--role", "worker", "--db", path, "--index", str(i)]
            )
        for p in procs.values():
            p.expect("ready", 60)
        for i in range(args.producers):
            name = f"producer-{i}"
            procs[name] = Proc(
                name,
                ["--role", "producer", "--db", path, "--index", str(i), "--rate", str(args.rate)],
            )
            procs[name].expect("ready", 60)

        conn = sqlite3.connect(path, timeout=30)
        start = time.monotonic()
        last_t, last_prod, last_done = start, 0, 0
        warmup_at = start + min(max(args.report_every, duration * 0.25), duration)
        baseline: dict[str, tuple[float, int, int, int]] = {}
        while True:
            now = time.monotonic()
            remaining = start + duration - now
            time.sleep(max(0.0, min(args.report_every - (now - last_t), remaining)))
            t = time.monotonic()
            for name, p in procs.items():
                if p.popen.poll() is not None:
                    failures.append(f"{name} exited early with {p.popen.returncode}: "
                                    + "".join(p.stderr[-10:]))  # fmt: skip
            if failures:
                break
            prod = _count(conn, "SELECT COUNT(*) FROM soak_produced")
            done = _count(conn, "SELECT COUNT(*) FROM soak_done")
            backlog = _count(conn, f"SELECT COUNT(*) FROM _honker_live WHERE queue = '{JOBS}'")
            wal = os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0
            dt = t - last_t
            print(
                f"[{t - start:6.0f}s] enqueued {(prod - last_prod) / dt:7.1f}/s  "
                f"done {(done - last_done) / dt:7.1f}/s  total {done}/{prod}  "
                f"backlog {backlog}  wal {wal / 2**20:.1f}MB",
                flush=True,
            )
            cells = []
            for name, p in procs.items():
                s = p.sample(t)
                if s is None:
                    continue
                if t >= warmup_at and name not in baseline:
                    baseline[name] = s
                cells.append(f"{name} rss {_fmt_mb(s[1])} fds {s[2]} thr {s[3]}")
            for i in range(0, len(cells), 3):
                print("         " + " | ".join(cells[i : i + 3]), flush=True)
            last_t, last_prod, last_done = t, prod, done
            if t - start >= duration:
                break

        # Resource growth between the end of the warm-up and the end of the run.
        for name, p in procs.items():
            if name not in baseline or not p.samples:
                continue
            _, rss0, fds0, thr0 = baseline[name]
            _, rss1, fds1, thr1 = p.samples[-1]
            grew = (rss1 - rss0) / 1024
            if grew > args.rss_tolerance_mb:
                failures.append(
                    f"{name}: RSS grew {grew:.1f}MB ({_fmt_mb(rss0)} -> {_fmt_mb(rss1)})"
                )
            if fds1 - fds0 > args.fd_tolerance:
                failures.append(f"{name}: open descriptors grew {fds0} -> {fds1}")
            if thr1 - thr0 > args.thread_tolerance:
                failures.append(f"{name}: threads grew {thr0} -> {thr1}")

        # Stop in order: producers, then (once drained) workers, then readers.
        produced = sum(procs[f"producer-{i}"].stop()["produced"] for i in range(args.producers))
        deadline = time.monotonic() + STOP_WAIT_S
        while _count(conn, f"SELECT COUNT(*) FROM _honker_live WHERE queue = '{JOBS}'"):
            if time.monotonic() > deadline:
                failures.append("the job queue did not drain after the producers stopped")
                break
            time.sleep(0.1)
        worker_done = sum(procs[f"worker-{i}"].stop()["done"] for i in range(args.workers))
        notes = _count(
            conn, f"SELECT COUNT(*) FROM _honker_notifications WHERE channel = '{CHANNEL}'"
        )
        events = _count(conn, f"SELECT COUNT(*) FROM _honker_stream WHERE topic = '{STREAM}'")
        # Both drain up to the newest row before they answer (see their roles).
        listener = procs["listener"].stop(STOP_WAIT_S)
        consumer = procs["consumer"].stop(STOP_WAIT_S)
        procs["scheduler"].stop()

        prod_ids = {r[0] for r in conn.execute("SELECT job_id FROM soak_produced")}
        done_rows = conn.execute(
            "SELECT job_id, COUNT(*) FROM soak_done GROUP BY job_id"
        ).fetchall()
        done_ids = {r[0] for r in done_rows}
        lost = len(prod_ids - done_ids)
        twice = sum(1 for r in done_rows if r[1] > 1)
        dead = _count(conn, "SELECT COUNT(*) FROM _honker_dead")
        ticks = _count(conn, f"SELECT COUNT(*) FROM _honker_live WHERE queue = '{TICKS}'")
        next_fire = _count(conn, "SELECT next_fire_at FROM _honker_scheduler_tasks "
                                 "WHERE name = 'soak-tick'")  # fmt: skip
        conn.close()
        check = sqlite3.connect(path, timeout=30)
        verdict = "\n".join(r[0] for r in check.execute("PRAGMA integrity_check"))
        check.close()

        elapsed = time.monotonic() - start
        print(
            f"result: {produced} jobs produced, {len(done_ids)} done ({worker_done} acks) in "
            f"{elapsed:.0f}s = {len(done_ids) / elapsed:.1f} jobs/s; lost {lost}, "
            f"done twice {twice}, dead {dead}; listener {listener['received']}/{notes} "
            f"notifications; consumer {consumer['distinct']}/{events} events "
            f"({consumer['received'] - consumer['distinct']} replays); scheduler "
            f"{ticks} fires for {next_fire - initial_fire} boundaries; integrity {verdict}",
            flush=True,
        )
        if produced != len(prod_ids):
            failures.append(f"producers report {produced} jobs, the table holds {len(prod_ids)}")
        if lost:
            failures.append(f"{lost} jobs lost (produced, never done)")
        if twice:
            failures.append(f"{twice} jobs done twice")
        if dead:
            failures.append(f"{dead} jobs dead-lettered")
        if listener["received"] != notes or listener["distinct"] != notes:
            failures.append(f"listener got {listener['received']} of {notes} notifications")
        if consumer["distinct"] != events:
            failures.append(f"consumer saw {consumer['distinct']} of {events} events")
        if ticks != next_fire - initial_fire:
            failures.append(f"scheduler: {ticks} fires for {next_fire - initial_fire} boundaries")
        if verdict != "ok":
            failures.append(f"integrity_check: {verdict}")
    except Exception as exc:  # noqa: BLE001  reported as a failure, exit 1
        failures.append(f"soak crashed: {type(exc).__name__}: {exc}")
    finally:
        for p in procs.values():
            p.kill()
        if workdir is not None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for f in failures:
        print(f"FAIL {f}", flush=True)
    print("soak: " + ("FAILED" if failures else "passed"), flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="run length (default 10)")
    parser.add_argument("--seconds", type=float, default=None, help="run length in seconds")
    parser.add_argument("--db", default=None, help="database file (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="jobs/s per producer; 0: unpaced")
    parser.add_argument("--report-every", type=float, default=10.0, help="seconds between reports")
    parser.add_argument("--rss-tolerance-mb", type=float, default=48.0,
                        help="allowed RSS growth per process after warm-up (SQLite's page "
                             "cache is up to 32 MB per connection)")  # fmt: skip
    parser.add_argument("--fd-tolerance", type=int, default=3)
    parser.add_argument("--thread-tolerance", type=int, default=1)
    parser.add_argument("--role", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is None:
        return run(args)
    if args.role == "producer":
        role_producer(args.db, args.index, args.rate)
    elif args.role == "worker":
        role_worker(args.db, args.index)
    elif args.role == "listener":
        role_listener(args.db)
    elif args.role == "consumer":
        role_consumer(args.db)
    elif args.role == "scheduler":
        role_scheduler(args.db)
    else:
        parser.error(f"unknown role {args.role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
