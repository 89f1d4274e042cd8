"""What an inotify watch on the database's directory costs the processes that write.

A watch makes the kernel queue an event on every ``write()`` into the
directory, in the writing process, whether or not anyone reads the events:
every WAL frame of every commit. This runs the ideal queue's claim + ack
(bench/sql/ideal.sql) on two files in two directories, alternately, one
directory watched by ``--watches`` idle inotify instances (as each waiting
honker-py process used to keep one or two for its whole life), and prints the
CPU µs per cycle of each.

    python bench/watch_cost.py [--cycles N] [--watches W]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time

from _common import bare_connect, ideal_claim_and_ack, save, tmp_db

from honker.backends.sqlite.sql import Q
from honker.backends.sqlite.watch import inotify


def filled(n: int) -> tuple[str, sqlite3.Connection]:
    path = tmp_db()
    conn = bare_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(n))
    )
    conn.execute("COMMIT")
    return path, conn


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=3000)
    ap.add_argument("--watches", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    _, plain = filled(a.cycles * (a.rounds + 1))
    watched_path, watched = filled(a.cycles * (a.rounds + 1))
    watches = []
    for _ in range(a.watches):
        ino = inotify.Inotify()
        ino.add_watch(os.path.dirname(watched_path), inotify.DIR_MASK)
        watches.append(ino)

    def cycles(c: sqlite3.Connection) -> float:
        t0 = time.thread_time()
        ideal_claim_and_ack(c, a.cycles)
        return (time.thread_time() - t0) / a.cycles * 1e6

    best = {"unwatched": float("inf"), "watched": float("inf")}
    try:
        for _ in range(a.rounds):
            best["unwatched"] = min(best["unwatched"], cycles(plain))
            best["watched"] = min(best["watched"], cycles(watched))
    finally:
        for ino in watches:
            ino.close()
        plain.close()
        watched.close()
    extra = best["watched"] - best["unwatched"]
    print(
        f"claim + ack, CPU µs per cycle: no watch {best['unwatched']:.1f}, "
        f"{a.watches} idle watch(es) {best['watched']:.1f} (+{extra:.1f} µs, "
        f"{best['watched'] / best['unwatched']:.2f}x)"
    )
    rows: list[dict[str, object]] = [
        {"figure": "claim + ack, no inotify watch", "us_per_cycle": best["unwatched"]},
        {
            "figure": f"claim + ack, {a.watches} idle inotify watch(es) on the directory",
            "us_per_cycle": best["watched"],
        },
    ]
    save("watch_cost", rows)
    return rows


if __name__ == "__main__":
    main()
