"""Claim + ack throughput at queue depth 1,000 and 100,000.

Each cycle is what a worker does: claim (one write transaction: the
dead-letter pass and the claim UPDATE) then ack (one write transaction).
Bare sqlite3 runs the same claim UPDATE and ack DELETE with the same
transactions, but no dead-letter pass and no Python API. The ideal queue
(bench/sql/ideal.sql) is the minimal claim UPDATE ... RETURNING and ack on the
same partial index. All three run alternately in one process, ``REPEAT``
rounds; the rates are the best round's wall clock, and beside them the ratio
to the ideal queue in CPU time (``time.thread_time``) of each round, median
and range: on a shared machine the CPU-time ratio is the steadier one.

    python bench/claim.py [--cycles N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from _common import IDEAL, bare_connect, claim_and_ack, print_rows, row, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q


def fill(path: str, depth: int) -> None:
    conn = bare_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(depth))
    )
    conn.execute("COMMIT")
    conn.close()


REPEAT = 9


def ours(depth: int, batch: int, cycles: int) -> tuple[Callable[[], None], Callable[[], None]]:
    path = tmp_db()
    fill(path, depth + cycles * batch * (REPEAT + 1))
    db = honker.open(path)
    q = db.queue("q")
    q.claim_batch("warm-up", 1)  # a connection's first claim runs honker's full dead-letter pass

    def run() -> None:
        claim_and_ack(q, cycles, batch)

    return run, db.close


def bare(
    depth: int, batch: int, cycles: int, ideal: bool = False
) -> tuple[Callable[[], None], Callable[[], None]]:
    path = tmp_db()
    fill(path, depth + cycles * batch * (REPEAT + 1))
    conn = bare_connect(path, with_schema=False)
    sql = IDEAL if ideal else Q
    claim, ack, ack_batch = sql["claim"], sql["ack"], sql["ack_batch"]
    # Q["claim"] is (queue, worker, n, timeout); the ideal one (queue, worker, timeout, n).
    args = ("q", "w", 300, batch) if ideal else ("q", "w", batch, 300)

    def run() -> None:
        for _ in range(cycles):
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(claim, args).fetchall()
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            if batch == 1:
                conn.execute(ack, (rows[0][0], "w")).fetchall()
            else:
                conn.execute(ack_batch, (json.dumps([r[0] for r in rows]), "w")).fetchall()
            conn.execute("COMMIT")

    return run, conn.close


def measure(depth: int, batch: int, cycles: int) -> tuple[dict[str, float], list[float]]:
    """Best wall-clock rates, and the per-round CPU-time ratios ours / ideal (as rates)."""
    runs = {
        "ours": ours(depth, batch, cycles),
        "bare": bare(depth, batch, cycles),
        "ideal": bare(depth, batch, cycles, ideal=True),
    }
    best = dict.fromkeys(runs, float("inf"))
    cpu_ratios = []
    try:
        for r in range(REPEAT):
            names = list(runs)
            names = names[r % 3 :] + names[: r % 3]  # rotate who goes first
            cpu = {}
            for name in names:
                w0, c0 = time.perf_counter(), time.thread_time()
                runs[name][0]()
                cpu[name] = time.thread_time() - c0
                best[name] = min(best[name], time.perf_counter() - w0)
            cpu_ratios.append(cpu["ideal"] / cpu["ours"])
    finally:
        for _, close in runs.values():
            close()
    return {name: cycles * batch / t for name, t in best.items()}, sorted(cpu_ratios)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=2000)
    a = ap.parse_args(argv)
    rows = []
    cpus = []
    for batch in (1, 32):
        cycles = a.cycles if batch == 1 else max(50, a.cycles // 16)
        for depth in (1_000, 100_000):
            r, cpu = measure(depth, batch, cycles)
            figure = f"claim {batch} + ack {batch}, depth {depth:,}"
            rows.append(row(figure, r["ours"], r["bare"], "jobs/s", ideal=r["ideal"]))
            cpus.append(cpu)
    print_rows(rows)
    print("\nvs the ideal queue in CPU time per round (median [range]):")
    for r, cpu in zip(rows, cpus, strict=True):
        # A string: run_all.py prints numeric keys as columns of peers.
        r["cpu_ratio_ideal"] = f"{statistics.median(cpu):.2f}x [{cpu[0]:.2f}-{cpu[-1]:.2f}]"
        print(f"  {r['figure']:<40} {r['cpu_ratio_ideal']}")
    save("claim", rows)
    return rows


if __name__ == "__main__":
    main()
