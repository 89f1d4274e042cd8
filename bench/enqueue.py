"""Enqueue throughput: one job per transaction, and 1000 jobs per transaction.

honker: ``q.enqueue(payload)`` (its own transaction) and ``q.enqueue(payload,
tx=tx)`` inside one ``db.transaction()``. Bare sqlite3: the same INSERT with
``BEGIN IMMEDIATE``/``COMMIT`` around each job, or around each 1000.

    python bench/enqueue.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from _common import bare_connect, paired, print_rows, row, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q

PAYLOAD = {"to": "alice@example.com", "template": "welcome", "n": 1}


def ours(per_tx: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    db = honker.open(tmp_db())
    q = db.queue("q")

    def run(n: int) -> None:
        if per_tx == 1:
            for _ in range(n):
                q.enqueue(PAYLOAD)
            return
        for _ in range(n // per_tx):
            with db.transaction() as tx:
                for _ in range(per_tx):
                    q.enqueue(PAYLOAD, tx=tx)

    return run, db.close


def bare(per_tx: int) -> tuple[Callable[[int], None], Callable[[], None]]:
    conn = bare_connect(tmp_db())
    sql = Q["enqueue"]

    def run(n: int) -> None:
        for _ in range(n // per_tx):
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(per_tx):
                conn.execute(sql, ("q", json.dumps(PAYLOAD), None, None, 0, 3, None))
            conn.execute("COMMIT")

    return run, conn.close


def measure(per_tx: int, n: int) -> tuple[float, float]:
    ours_run, ours_close = ours(per_tx)
    bare_run, bare_close = bare(per_tx)
    try:
        return paired(n, lambda: ours_run(n), lambda: bare_run(n))
    finally:
        ours_close()
        bare_close()


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    a = ap.parse_args(argv)
    rows = [
        row("enqueue, 1 job per transaction", *measure(1, a.jobs), "jobs/s"),
        row("enqueue, 1000 jobs per transaction", *measure(1000, a.jobs * 10), "jobs/s"),
    ]
    print_rows(rows)
    save("enqueue", rows)
    return rows


if __name__ == "__main__":
    main()
