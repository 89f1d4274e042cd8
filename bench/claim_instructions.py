"""Claim 1 + ack 1 in machine instructions per job, under valgrind's callgrind.

Wall-clock and even CPU-time ratios move by ±0.2 on a shared machine; the
number of instructions a cycle executes does not. Each variant runs in a
child process under ``valgrind --tool=callgrind`` twice (``SMALL`` and
``LARGE`` cycles); the difference divided by ``LARGE - SMALL`` is the
instructions per claim + ack, start-up excluded. Instructions are not time
(cache misses, system calls), but the Python and SQLite work they count is
what this package adds to a cycle. Variants:

- ``ideal``: the ideal queue (bench/sql/ideal.sql) on a bare connection;
- ``claim_one``: ``q.claim_one("w").ack()``;
- ``iterator``: ``(await it.__anext__()).ack()`` on ``q.claim("w")``;
- ``wait_for``: ``(await asyncio.wait_for(it.__anext__(), 5)).ack()``;
- ``timeout``: ``async with asyncio.timeout(5): job = await anext(it)``, ack.

Ratios: each variant against the ideal queue, and the two bounded-wait
styles against ``iterator`` (what a consumer pays for its timeout).

    python bench/claim_instructions.py [--variants ideal,claim_one,iterator]

Needs valgrind (Debian: ``apt-get install valgrind``); takes about a minute
per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys

from _common import bare_connect, ideal_claim_and_ack, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q

SMALL, LARGE = 100, 600
VARIANTS = ("ideal", "claim_one", "iterator", "wait_for", "timeout")


def child(variant: str, n: int) -> None:
    path = tmp_db()
    conn = bare_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(3000))
    )
    conn.execute("COMMIT")
    if variant == "ideal":
        ideal_claim_and_ack(conn, n)
        return
    db = honker.open(path)
    q = db.queue("q")
    q.claim_batch("warm-up", 1)  # a connection's first claim runs the full dead-letter pass
    if variant == "claim_one":
        for _ in range(n):
            q.claim_one("w").ack()  # type: ignore[union-attr]
    else:

        async def consume() -> None:
            it = q.claim("w")
            for _ in range(n):
                if variant == "wait_for":
                    job = await asyncio.wait_for(it.__anext__(), 5)
                elif variant == "timeout":
                    async with asyncio.timeout(5):
                        job = await anext(it)
                else:
                    job = await it.__anext__()
                job.ack()
            it.close()

        asyncio.run(consume())
    db.close()


def instructions(variant: str, n: int) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    out = subprocess.run(
        [*cmd, __file__, "--child", variant, str(n)],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    match = re.search(r"Collected : (\d+)", out)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--child", nargs=2, metavar=("VARIANT", "N"))
    a = ap.parse_args(argv)
    if a.child:
        child(a.child[0], int(a.child[1]))
        return []
    per_job = {}
    for variant in a.variants.split(","):
        per_job[variant] = (instructions(variant, LARGE) - instructions(variant, SMALL)) / (
            LARGE - SMALL
        )
        print(f"{variant:<10} {per_job[variant]:>10,.0f} instructions per claim + ack", flush=True)
    rows: list[dict[str, object]] = []
    if "ideal" in per_job:
        for variant, n in per_job.items():
            ratio = per_job["ideal"] / n
            print(f"{variant:<10} ideal / this: {ratio:.3f}")
            rows.append(
                {"figure": f"claim 1 + ack 1, {variant}", "instructions": n, "ratio_ideal": ratio}
            )
        save("claim_instructions", rows)
    return rows


if __name__ == "__main__":
    main()
