"""Wake latency and idle CPU of each watcher backend, across processes.

1. Latency. A producer process enqueues one job at a time, with a random
   pause between jobs (``--gap-ms``, 5-15 ms by default; 50-500 ms shows a
   consumer woken from a real idle gap), and notes ``time.time()`` right after each
   ``enqueue()`` returned (the commit) and right before it was called. A
   consumer process waiting in ``async for job in q.claim(...)`` notes
   ``time.time()`` as each job arrives. The figure is commit -> job in hand,
   p50/p90/p99/max; the p50 counted from before ``enqueue()`` (so including
   the producer's transaction) is printed beside it; the floor's producer
   enqueues with bare sqlite3, so its figure is bare enqueue + raw inotify
   (issue 15's floor). All backends' pairs run at once, on files of their
   own, and take turns in blocks of ``--block`` jobs (the first job of each
   block not counted), so that the machine's slower and faster moments fall
   on every backend alike. ``--start-delay-s`` makes the producers wait
   before the first block, so every consumer idles first (longer than the
   floor's 100 ms poll timeout: a check that none assumes an event arrives).
2. Idle CPU. A worker process waits in ``q.claim(...)`` (default
   ``idle_poll_s``) on an empty queue; its CPU time (all threads) over 10 s,
   after a 1 s warm-up, as a percentage of one core (``--idle-s 0`` skips
   it: it does not depend on the gap). A child that dies while idle fails
   the run instead of being measured as 0 %.

The floor, measured in the same run, as issue 15 defines it: a consumer
written with bare sqlite3 and raw inotify in a single thread (block in
``poll()`` on the directory's inotify descriptor, confirm the commit with
``PRAGMA data_version``, then run honker's claim UPDATE in ``BEGIN
IMMEDIATE``): the OS file event, the confirmation and one claim transaction,
with no watcher and no event loop. ``floor-raw`` is the same without the
confirmation (it claims on every file event): stricter than the issue's
floor, shown beside it. Also the idle CPU of a Python process asleep in asyncio
without honker, and the CPU cost of one poll done with bare sqlite3 (``PRAGMA
data_version`` on a plain connection, what the polling backend runs every
millisecond), of one ``pread`` of the ``-shm`` header (the shm backend's poll),
and of one ``time.sleep(0.001)`` wake-up in Python; each also as % of a core
at one call per millisecond.

    python bench/wake.py [--samples N] [--gap-ms MIN,MAX] [--start-delay-s S] [--block K]
                         [--idle-s S] [--backends polling,shm,...] [--save NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import time

from _common import ROOT, bare_connect, save, tmp_db

import honker
from honker.backends.sqlite.watch import shmfd as _shmfd
from honker.backends.sqlite.watch.detectors import default_backend

BACKENDS = ["floor", "floor-raw", "polling", "shm", "kernel", "default"]
FLOORS = ("floor", "floor-raw")  # bare sqlite3 consumers (and producers)
LABELS = {
    "floor": "floor: bare sqlite3 + inotify",
    "floor-raw": "floor without confirmation",
    "polling": "polling (1 ms)",
    "shm": "shm (1 ms)",
    "kernel": "kernel",
    "default": "default",
}
WARMUP_JOBS = 5  # dropped: the consumer may not be waiting yet
DEFAULT_GAP_MS = (5.0, 15.0)
DEFAULT_BLOCK = 20  # jobs per turn of one backend (see latency())

CONSUMER = textwrap.dedent(
    """
    import asyncio, json, sys, time, honker

    async def main():
        path, backend, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        db = honker.open(path, watcher_backend=None if backend == "default" else backend,
                         watcher_poll_interval_ms=1)
        jobs = db.queue("lat").claim("bench")
        print("ready", flush=True)
        got = []
        async for job in jobs:
            got.append((job.payload["i"], time.time()))
            job.ack()
            if len(got) == n:
                break
        print(json.dumps(got), flush=True)
        jobs.close()
        db.close()

    asyncio.run(main())
    """
)

# The floor: the OS file event, a confirmation and one claim transaction, in
# one thread. As issue 15 defines it ("floor"): after a file event, claim only
# once PRAGMA data_version confirms another connection's commit (the event
# can come a little before the commit is visible: look again for up to
# CONFIRM_S, as honker's kernel backend does, then wait for the next event).
# "floor-raw" claims on every event without confirming: stricter than the
# issue's floor (no confirmation at all), shown beside it.
FLOOR = textwrap.dedent(
    """
    import json, os, select, sqlite3, sys, time
    from honker.backends.sqlite.watch import inotify as _inotify
    from honker.backends.sqlite.sql import Q
    CONFIRM_S = 0.0003
    path, mode = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1  # idle: waits forever
    confirm = mode == "floor"
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 5000"):
        conn.execute("PRAGMA " + pragma).fetchall()
    ino = _inotify.Inotify()
    ino.add_watch(os.path.dirname(os.path.abspath(path)), _inotify.DIR_MASK)
    poll = select.poll()
    poll.register(ino.fd, select.POLLIN)
    claim, ack, version = Q["claim"], Q["ack"], "PRAGMA data_version"
    seen = conn.execute(version).fetchone()[0]
    print("ready", flush=True)
    got = []
    look = True  # claim now (at start, after a confirmed commit, after a timeout)
    while len(got) < n:
        if look:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(claim, ("lat", "bench", 1, 300)).fetchall()
            conn.execute("COMMIT")
            if rows:
                got.append((json.loads(rows[0][2])["i"], time.time()))
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(ack, (rows[0][0], "bench")).fetchall()
                conn.execute("COMMIT")
                continue
        # Idle: wait up to 100 ms for a file event. A timeout leaves nothing
        # to read (then look anyway), and the descriptor is non-blocking: read
        # only when poll() says readable; even then it may be empty.
        if not poll.poll(100):
            look = True
            continue
        try:
            os.read(ino.fd, 4096)  # drain the events (more: readable again)
        except BlockingIOError:
            pass
        look = not confirm
        until = time.monotonic() + CONFIRM_S
        while confirm:
            now = conn.execute(version).fetchone()[0]
            if now != seen:  # another connection committed (our own never move it)
                seen, look = now, True
                break
            if time.monotonic() >= until:
                break
    print(json.dumps(got), flush=True)
    """
)

# The producer: honker's enqueue(), or for the floor a bare sqlite3 enqueue
# (BEGIN IMMEDIATE, honker's INSERT, COMMIT), so the floor's "incl. enqueue"
# is bare enqueue + raw inotify consumer. It enqueues in blocks, when told
# ("run K" on stdin: K jobs, each after a random pause; it answers "done"),
# so that the backends' blocks can take turns (see latency()).
PRODUCER = textwrap.dedent(
    """
    import json, random, sys, time, honker
    path, seed = sys.argv[1], int(sys.argv[2])
    gap_min_s, gap_max_s = float(sys.argv[3]) / 1000, float(sys.argv[4]) / 1000
    if sys.argv[5] == "bare":
        import sqlite3
        from honker.backends.sqlite.connection import PRAGMAS
        from honker.backends.sqlite.sql import Q
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(pragma).fetchall()
        sql = Q["enqueue"]
        def enqueue(payload):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, ("lat", json.dumps(payload), None, None, 0, 3, None))
            conn.execute("COMMIT")
        close = conn.close
    else:
        db = honker.open(path)
        enqueue, close = db.queue("lat").enqueue, db.close
    rng = random.Random(seed)
    print("ready", flush=True)
    times = []
    for line in sys.stdin:
        if not line.startswith("run "):
            break
        for _ in range(int(line.split()[1])):
            time.sleep(rng.uniform(gap_min_s, gap_max_s))
            before = time.time()
            enqueue({"i": len(times)})
            times.append((before, time.time()))
        print("done", flush=True)
    print(json.dumps(times), flush=True)
    close()
    """
)

IDLE = textwrap.dedent(
    """
    import asyncio, sys, honker

    async def main():
        path, backend = sys.argv[1], sys.argv[2]
        db = honker.open(path, watcher_backend=None if backend == "default" else backend)
        jobs = db.queue("idle").claim("idler")
        print("ready", flush=True)
        async for job in jobs:
            job.ack()

    asyncio.run(main())
    """
)

# The floor: a Python process asleep in asyncio, no honker at all.
ASLEEP = textwrap.dedent(
    """
    import asyncio
    print("ready", flush=True)
    asyncio.run(asyncio.Event().wait())
    """
)


def setup(path: str, queue: str) -> None:
    """Schema and queue exist before any child opens the file."""
    db = honker.open(path)
    db.queue(queue)
    db.close()


def spawn(code: str, *args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)


def expect_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"child did not start (said {line!r})")


def percentile(sorted_xs: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = math.ceil(p / 100 * len(sorted_xs)) - 1
    return sorted_xs[max(0, min(len(sorted_xs) - 1, k))]


def latency(
    backends: list[str],
    samples: int,
    gap_ms: tuple[float, float] = DEFAULT_GAP_MS,
    start_delay_s: float = 0.0,
    block: int = DEFAULT_BLOCK,
) -> dict[str, tuple[list[float], list[float]]]:
    """Per backend: seconds from commit, and from before ``enqueue()``, to the job in hand.

    Every backend's consumer and producer run at once, each pair on a file
    of its own (in a directory of its own: no cross-wakes), but only one
    producer works at a time: the backends take turns in blocks of
    ``block`` jobs (the order rotating), so that a slower or faster moment
    of the machine falls on all of them alike and the ratios compare like
    with like. The first job of each block (its consumer idled through the
    other blocks) and a first warm-up block are not counted. Jobs are
    ``gap_ms`` (a uniform random range) apart; ``start_delay_s`` delays the
    first block, every consumer idling.
    """
    blocks = max(1, math.ceil(samples / block))
    total = WARMUP_JOBS + blocks * (block + 1)
    pairs: dict[str, tuple[subprocess.Popen[str], subprocess.Popen[str] | None]] = {}
    try:
        for backend in backends:
            path = tmp_db()
            setup(path, "lat")
            consumer = spawn(FLOOR if backend in FLOORS else CONSUMER, path, backend, total)
            pairs[backend] = (consumer, None)
            expect_ready(consumer)
            kind = "bare" if backend in FLOORS else "honker"
            producer = spawn(PRODUCER, path, random.randrange(2**32), *gap_ms, kind)
            pairs[backend] = (consumer, producer)
            expect_ready(producer)
        if start_delay_s > 0:
            time.sleep(start_delay_s)  # every consumer idles: no event arrives meanwhile

        def run(backend: str, n: int) -> None:
            producer = pairs[backend][1]
            assert producer is not None and producer.stdin and producer.stdout
            producer.stdin.write(f"run {n}\n")
            producer.stdin.flush()
            if producer.stdout.readline().strip() != "done":
                raise RuntimeError(f"{backend} producer died (its traceback is above)")

        for backend in backends:
            run(backend, WARMUP_JOBS)  # the consumer may not be waiting yet
        for b in range(blocks):
            k = b % len(backends)
            for backend in backends[k:] + backends[:k]:
                run(backend, block + 1)
        out: dict[str, tuple[list[float], list[float]]] = {}
        for backend, (consumer, producer) in pairs.items():
            assert producer is not None and producer.stdin and producer.stdout
            assert consumer.stdout is not None
            producer.stdin.write("end\n")
            producer.stdin.flush()
            times = json.loads(producer.stdout.readline() or "null")
            got = json.loads(consumer.stdout.readline() or "null")
            if times is None or got is None:
                raise RuntimeError(f"{backend}: a child died (its traceback is above)")
            # Counted: not the warm-up block, not the first job of a block.
            got = [(i, t) for i, t in got if i >= WARMUP_JOBS and (i - WARMUP_JOBS) % (block + 1)]
            out[backend] = (
                [t - times[i][1] for i, t in got],
                [t - times[i][0] for i, t in got],
            )
        return out
    finally:
        children: list[tuple[subprocess.Popen[str] | None, str]] = []
        for backend, (consumer, producer) in pairs.items():
            children += [(producer, f"{backend} producer"), (consumer, f"{backend} consumer")]
        finish(*children)


def finish(*children: tuple[subprocess.Popen[str] | None, str]) -> None:
    """Reap every ``(process, role)`` (killed after 30 s); raise if one failed."""
    failed: list[str] = []
    for proc, role in children:
        if proc is None:
            continue
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        if failed:  # the others cannot finish normally: no more jobs are coming
            proc.kill()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode != 0:
            failed.append(f"{role} exited with {proc.returncode}")
    if failed:
        raise RuntimeError("; ".join(failed) + " (its traceback is above)")


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (ns-precise schedstat if there)."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except OSError:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(code: str, backend: str, warmup_s: float, idle_s: float) -> float:
    """% of one core used by a child process (``code``) once it printed ready."""
    path = tmp_db()
    setup(path, "idle")
    proc = spawn(code, path, backend)
    try:
        expect_ready(proc)
        time.sleep(warmup_s)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle_s)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        if proc.poll() is not None:  # a dead child uses no CPU: not a figure
            raise RuntimeError(
                f"{backend} idle child exited with {proc.returncode} while idle "
                "(its traceback is above)"
            )
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    return 100 * (cpu1 - cpu0) / (t1 - t0)


def per_call_us(fn: object, n: int) -> float:
    """CPU microseconds per call of ``fn`` (best of 3 runs of ``n`` calls)."""
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        for _ in range(n):
            fn()  # type: ignore[operator]
        best = min(best, time.process_time() - c0)
    return best / n * 1e6


def bare_polls() -> list[tuple[str, float]]:
    """CPU µs per call of each poll primitive, outside honker."""
    path = tmp_db()
    writer = bare_connect(path)
    writer.execute("INSERT INTO _honker_notifications (channel, payload) VALUES ('c', '1')")
    watcher = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    # The registry's descriptor: never open()+close() -shm beside live connections.
    key, fd = _shmfd.acquire(path + "-shm")
    try:
        return [
            (
                "bare sqlite3: PRAGMA data_version",
                per_call_us(lambda: watcher.execute("PRAGMA data_version").fetchone(), 100_000),
            ),
            ("os.pread of the -shm header", per_call_us(lambda: os.pread(fd, 12, 0), 200_000)),
            ("time.sleep(0.001) in Python", per_call_us(lambda: time.sleep(0.001), 2_000)),
        ]
    finally:
        _shmfd.release(key)
        watcher.close()
        writer.close()


def wake_row(
    label: str,
    backend: str,
    lat_ms: list[float],
    cpu: float | None,
    incl_enqueue_ms: list[float] = (),  # type: ignore[assignment]
) -> dict[str, object]:
    """One table row; ``lat_ms`` and ``incl_enqueue_ms`` sorted ascending."""
    return {
        "figure": label,
        "backend": backend,
        "samples": len(lat_ms),
        "p50_ms": percentile(lat_ms, 50) if lat_ms else None,
        "p90_ms": percentile(lat_ms, 90) if lat_ms else None,
        "p99_ms": percentile(lat_ms, 99) if lat_ms else None,
        "max_ms": lat_ms[-1] if lat_ms else None,
        "p50_incl_enqueue_ms": percentile(incl_enqueue_ms, 50) if incl_enqueue_ms else None,
        "idle_cpu_pct": cpu,
    }


def parse_gap(text: str) -> tuple[float, float]:
    """``"MIN,MAX"`` in ms -> ``(MIN, MAX)``."""
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX in ms, got {text!r}") from None
    if not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return lo, hi


def gap_text(gap_ms: tuple[float, float]) -> str:
    return f"{gap_ms[0]:g}-{gap_ms[1]:g} ms"


def default_save_name(gap_ms: tuple[float, float]) -> str:
    """``wake`` for the default gaps, else ``wake-gap-MIN-MAXms``."""
    if tuple(gap_ms) == DEFAULT_GAP_MS:
        return "wake"
    return f"wake-gap-{gap_ms[0]:g}-{gap_ms[1]:g}ms"


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--samples", type=int, default=300, help="jobs measured per backend (whole blocks)"
    )
    ap.add_argument(
        "--gap-ms",
        type=parse_gap,
        default=DEFAULT_GAP_MS,
        metavar="MIN,MAX",
        help="random pause before each job, uniform in [MIN, MAX] ms (default 5,15)",
    )
    ap.add_argument(
        "--start-delay-s",
        type=float,
        default=0.0,
        help="the producer waits this long before its first job, the consumer idling",
    )
    ap.add_argument(
        "--idle-s", type=float, default=10.0, help="idle CPU window; 0 skips the idle CPU figures"
    )
    ap.add_argument("--warmup-s", type=float, default=1.0)
    ap.add_argument(
        "--block",
        type=int,
        default=DEFAULT_BLOCK,
        help=f"jobs per turn: the backends take turns in blocks (default {DEFAULT_BLOCK})",
    )
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument(
        "--save",
        metavar="NAME",
        help="write results/NAME.json (default: wake for 5-15 ms gaps, else "
        "wake-gap-MIN-MAXms); an empty NAME writes nothing",
    )
    a = ap.parse_args(argv)
    gap = a.gap_ms
    default_is = default_backend(tmp_db())
    rows: list[dict[str, object]] = []
    backends = a.backends.split(",")
    labels = {b: LABELS[b] + (f" = {default_is}" if b == "default" else "") for b in backends}
    print(
        f"  latency: {', '.join(backends)} taking turns, {a.samples} jobs each "
        f"{gap_text(gap)} apart, blocks of {a.block}...",
        file=sys.stderr,
        flush=True,
    )
    measured = latency(backends, a.samples, gap, a.start_delay_s, a.block)
    for backend in backends:
        from_commit, from_enqueue = measured[backend]
        lat = sorted(x * 1000 for x in from_commit)
        incl = sorted(x * 1000 for x in from_enqueue)
        cpu = None
        if a.idle_s > 0:
            print(f"  {labels[backend]}: idle CPU, {a.idle_s:g} s...", file=sys.stderr, flush=True)
            code = FLOOR if backend in FLOORS else IDLE
            cpu = idle_cpu(code, backend, a.warmup_s, a.idle_s)
        row = wake_row(labels[backend], backend, lat, cpu, incl)
        row["gap_ms"] = list(gap)
        row["block"] = a.block
        rows.append(row)
    if a.idle_s > 0:
        print("  idle CPU of a bare asyncio process...", file=sys.stderr, flush=True)
        asleep = idle_cpu(ASLEEP, "none", a.warmup_s, a.idle_s)
        rows.append(wake_row("(no honker: asyncio asleep)", "none", [], asleep))
        for figure, us in bare_polls():
            row = wake_row(figure, "bare", [], us / 10)  # % of a core at one call per ms
            row["us_per_poll"] = us
            rows.append(row)
    print_table(rows, a.samples, gap, a.idle_s, a.warmup_s)
    name = default_save_name(gap) if a.save is None else a.save
    if name:
        save(name, rows)
    return rows


def _ms(v: object) -> str:
    return f"{v:>9.2f}" if isinstance(v, float) else f"{'-':>9}"


def print_table(
    rows: list[dict[str, object]],
    samples: int,
    gap_ms: tuple[float, float],
    idle_s: float,
    warmup_s: float,
) -> None:
    print(
        "Wake latency: a producer process enqueues a job, a claim() iterator in another\n"
        f"process holds it; {samples} jobs {gap_text(gap_ms)} apart. Measured from the producer's\n"
        "commit (enqueue() returned); 'incl. enq' counts from before enqueue() instead.\n"
        "'x floor' = p50 / the floor's p50 (bare sqlite3 + inotify, one thread); 'incl. x'\n"
        "= the same from before enqueue() (issue 15's figure: enqueue() call -> job in hand).\n"
        "The backends took turns in blocks of jobs (bench/wake.py latency()).\n"
        + (
            "Idle CPU: a worker process waiting in claim() on an empty queue (default\n"
            f"idle_poll_s), all threads, {idle_s:g} s after {warmup_s:g} s of warm-up, "
            "% of one core.\n"
            if idle_s > 0
            else "Idle CPU: not measured (--idle-s 0).\n"
        )
    )
    heads = ("p50 ms", "p90 ms", "p99 ms", "max ms", "incl. enq", "x floor", "incl. x")
    head = f"{'backend':<32}" + "".join(f" {h:>9}" for h in heads) + f" {'idle CPU %':>11}"
    print(head)
    print("-" * len(head))
    floor = next((r["p50_ms"] for r in rows if r["backend"] == "floor"), None)
    floor_incl = next((r["p50_incl_enqueue_ms"] for r in rows if r["backend"] == "floor"), None)
    for r in rows:
        if r["backend"] == "bare":
            continue
        keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms", "p50_incl_enqueue_ms")
        cells = "".join(" " + _ms(r[k]) for k in keys)
        p50 = r["p50_ms"]
        ratio = f"{p50 / floor:>8.2f}x" if isinstance(p50, float) and floor else f"{'-':>9}"
        incl = r["p50_incl_enqueue_ms"]
        ratio += (
            f" {incl / floor_incl:>8.2f}x"
            if isinstance(incl, float) and floor_incl
            else f" {'-':>9}"
        )
        cpu = r["idle_cpu_pct"]
        cpu_cell = f"{cpu:>11.3f}" if isinstance(cpu, float) else f"{'-':>11}"
        print(f"{r['figure']!s:<32}{cells} {ratio} {cpu_cell}")
    bare = [r for r in rows if r["backend"] == "bare"]
    if not bare:
        return
    print("\nOne poll, CPU per call (and % of a core at one call per ms):")
    for r in bare:
        print(f"  {r['figure']!s:<36} {r['us_per_poll']:>7.2f} µs  ({r['idle_cpu_pct']:.3f} %)")
    by = {r["backend"]: r for r in rows}
    if "polling" in by:
        pragma = next(r for r in bare if str(r["figure"]).startswith("bare sqlite3"))
        ratio_cpu = float(by["polling"]["idle_cpu_pct"]) / float(pragma["idle_cpu_pct"])  # type: ignore[arg-type]
        print(f"polling backend idle CPU / bare PRAGMA data_version once per ms: {ratio_cpu:.1f}x")


if __name__ == "__main__":
    main()
