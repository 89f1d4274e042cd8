"""Enqueue throughput: one job per transaction, and 1000 jobs per transaction.

honker: ``q.enqueue(payload)`` (its own transaction) and ``q.enqueue(payload,
tx=tx)`` inside one ``db.transaction()``. Bare sqlite3: the same INSERT with
``BEGIN IMMEDIATE``/``COMMIT`` around each job, or around each 1000.

    python bench/enqueue.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json

from _common import bare_connect, print_rows, rate, row, save, tmp_db

import honker
from honker._sql import Q

PAYLOAD = {"to": "alice@example.com", "template": "welcome", "n": 1}


def ours_single(n: int) -> float:
    db = honker.open(tmp_db())
    q = db.queue("q")
    r = rate(n, lambda: [q.enqueue(PAYLOAD) for _ in range(n)])
    db.close()
    return r


def ours_batched(n: int) -> float:
    db = honker.open(tmp_db())
    q = db.queue("q")

    def run() -> None:
        for _ in range(n // 1000):
            with db.transaction() as tx:
                for _ in range(1000):
                    q.enqueue(PAYLOAD, tx=tx)

    r = rate(n, run)
    db.close()
    return r


def bare_single(n: int) -> float:
    conn = bare_connect(tmp_db())
    sql = Q["enqueue"]

    def run() -> None:
        for _ in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, ("q", json.dumps(PAYLOAD), None, None, 0, 3, None))
            conn.execute("COMMIT")

    return rate(n, run)


def bare_batched(n: int) -> float:
    conn = bare_connect(tmp_db())
    sql = Q["enqueue"]

    def run() -> None:
        for _ in range(n // 1000):
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(1000):
                conn.execute(sql, ("q", json.dumps(PAYLOAD), None, None, 0, 3, None))
            conn.execute("COMMIT")

    return rate(n, run)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    a = ap.parse_args(argv)
    rows = [
        row("enqueue, 1 job per transaction", ours_single(a.jobs), bare_single(a.jobs), "jobs/s"),
        row(
            "enqueue, 1000 jobs per transaction",
            ours_batched(a.jobs * 10),
            bare_batched(a.jobs * 10),
            "jobs/s",
        ),
    ]
    print_rows(rows)
    save("enqueue", rows)
    return rows


if __name__ == "__main__":
    main()
