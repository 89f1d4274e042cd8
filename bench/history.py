"""What the throughput counters cost: claim 1 + ack 1 with history on and off.

Three workloads, each claim + ack at depth 1,000 as in claim.py: honker-py with
the counters (the default), honker-py opened with ``history=False``, and bare
sqlite3 running the same SQL. The three run alternately, ROUNDS times, so
machine noise lands on all of them; each round prints its rates and ratios.

    python bench/history.py [--cycles N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from _common import RESULTS, bare_connect, tmp_db
from claim import REPEAT, fill

import honker
from honker.backends.sqlite.sql import Q

DEPTH = 1_000


def ours(jobs: int, cycles: int, history: bool) -> tuple[Callable[[], None], Callable[[], None]]:
    path = tmp_db(f"history-{history}.db")
    fill(path, DEPTH + jobs)
    db = honker.open(path, history=history)
    q = db.queue("q")
    q.claim_batch("warm-up", 1)

    def run() -> None:
        for _ in range(cycles):
            q.claim_batch("w", 1)[0].ack()

    return run, db.close


def bare(jobs: int, cycles: int) -> tuple[Callable[[], None], Callable[[], None]]:
    path = tmp_db("history-bare.db")
    fill(path, DEPTH + jobs)
    conn = bare_connect(path, with_schema=False)
    claim, ack = Q["claim"], Q["ack"]

    def run() -> None:
        for _ in range(cycles):
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(claim, ("q", "w", 1, 300)).fetchall()
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(ack, (rows[0][0], "w")).fetchall()
            conn.execute("COMMIT")

    return run, conn.close


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    jobs = a.cycles * (a.rounds * REPEAT + 1)
    on_run, on_close = ours(jobs, a.cycles, True)
    off_run, off_close = ours(jobs, a.cycles, False)
    bare_run, bare_close = bare(jobs, a.cycles)
    rounds = []
    try:
        for r in range(a.rounds):
            best = {"on": float("inf"), "off": float("inf"), "bare": float("inf")}
            for _ in range(REPEAT):
                for name, fn in (("on", on_run), ("off", off_run), ("bare", bare_run)):
                    t0 = time.perf_counter()
                    fn()
                    best[name] = min(best[name], time.perf_counter() - t0)
            rates = {k: a.cycles / v for k, v in best.items()}
            rounds.append(rates)
            print(
                f"round {r + 1}: on {rates['on']:,.0f}/s  off {rates['off']:,.0f}/s  "
                f"bare {rates['bare']:,.0f}/s  on/bare {rates['on'] / rates['bare']:.2f}x  "
                f"off/bare {rates['off'] / rates['bare']:.2f}x  on/off {rates['on'] / rates['off']:.3f}"
            )
    finally:
        on_close()
        off_close()
        bare_close()
    summary = {
        "figure": "claim 1 + ack 1, depth 1,000: throughput counters on / off",
        "rounds": rounds,
        "median_on_over_off": statistics.median(r["on"] / r["off"] for r in rounds),
        "median_on_over_bare": statistics.median(r["on"] / r["bare"] for r in rounds),
        "median_off_over_bare": statistics.median(r["off"] / r["bare"] for r in rounds),
    }
    print(
        f"median: on/off {summary['median_on_over_off']:.3f}, on/bare "
        f"{summary['median_on_over_bare']:.2f}x, off/bare {summary['median_off_over_bare']:.2f}x"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
