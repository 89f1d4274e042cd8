"""What each way of awaiting the claim iterator costs, in one process.

A queue is filled in advance, so no consumer ever waits: the figure is the
cost of the ``__anext__`` call itself, per job, for the three consumer styles
of bench/e2e.py (a plain ``async for``; ``asyncio.wait_for(it.__anext__(),
5)``; ``async with asyncio.timeout(5): await anext(it)``), run alternately,
CPU time of the consuming thread, best of ``--rounds``. Beside it, the same
three styles around a coroutine that returns at once, with no honker at all:
what asyncio itself charges per call (on Python 3.11 ``wait_for`` wraps the
coroutine in a new Task and needs three event-loop iterations to return).

    python bench/styles.py [--jobs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import bare_connect, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q

STYLES = ("plain", "wait_for", "timeout")


def fill(path: str, n: int) -> None:
    conn = bare_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(n))
    )
    conn.execute("COMMIT")
    conn.close()


async def consume(next_item: Callable[[], Awaitable[Any]], style: str, n: int) -> float:
    """CPU µs per item of ``n`` awaits of ``next_item()`` in ``style``."""
    t0 = time.thread_time()
    if style == "plain":
        for _ in range(n):
            await next_item()
    elif style == "wait_for":
        for _ in range(n):
            await asyncio.wait_for(next_item(), 5)
    else:
        for _ in range(n):
            async with asyncio.timeout(5):
                await next_item()
    return (time.thread_time() - t0) / n * 1e6


async def nothing() -> None:
    return None


async def run(jobs: int, rounds: int) -> dict[str, dict[str, float]]:
    dbs = {}
    for style in STYLES:
        path = tmp_db()
        fill(path, jobs * rounds + 10)
        dbs[style] = honker.open(path)
    iters = {style: db.queue("q").claim("w") for style, db in dbs.items()}
    best: dict[str, dict[str, float]] = {"honker": {}, "asyncio": {}}
    try:
        for _ in range(rounds):
            for style in STYLES:
                it = iters[style]

                async def next_job(it: Any = it) -> None:
                    (await it.__anext__()).ack()

                us = await consume(next_job, style, jobs)
                best["honker"][style] = min(best["honker"].get(style, us), us)
                us = await consume(nothing, style, jobs * 4)
                best["asyncio"][style] = min(best["asyncio"].get(style, us), us)
    finally:
        for it in iters.values():
            it.close()
        for db in dbs.values():
            db.close()
    return best


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    best = asyncio.run(run(a.jobs, a.rounds))
    rows: list[dict[str, object]] = []
    print(
        f"{'consumer style':<28} {'claim+ack µs/job':>17} {'vs async for':>13} {'asyncio alone µs':>17}"
    )
    for style in STYLES:
        ours, plain = best["honker"][style], best["honker"]["plain"]
        print(f"{style:<28} {ours:>17.1f} {ours / plain:>12.2f}x {best['asyncio'][style]:>17.1f}")
        rows.append(
            {
                "figure": f"claim + ack in process, {style}",
                "us_per_job": ours,
                "ratio_to_plain": ours / plain,
                "asyncio_alone_us": best["asyncio"][style],
            }
        )
    save("styles", rows)
    return rows


if __name__ == "__main__":
    main()
