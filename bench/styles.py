"""What each way of awaiting the claim iterator costs, in one process.

A queue is filled in advance, so no consumer ever waits: the figure is the
cost of the ``__anext__`` call itself, per job, for the consumer styles of
bench/e2e.py: a plain ``async for`` (``await it.__anext__()``);
``asyncio.wait_for(it.__anext__(), 5)``; ``async with asyncio.timeout(5):
await anext(it)``; and, as a yardstick, the coroutine ``__anext__`` was
before issue 15 (``await until(...)``, honker/_waiting.py), so that "plain
did not get slower" is measured too. Each round runs every style on
``--jobs`` jobs, in a rotating order, CPU time of the consuming thread; the
ratio to plain is taken within each round and the range over rounds is
printed beside the median. The same styles around a coroutine that returns
at once, with no honker at all, show what asyncio itself charges per call.

    python bench/styles.py [--jobs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import bare_connect, save, tmp_db

import honker
from honker._waiting import until
from honker.backends.sqlite.sql import Q

STYLES = ("plain", "wait_for", "timeout", "coroutine (before)")


def fill(path: str, n: int) -> None:
    conn = bare_connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        Q["enqueue"], (("q", json.dumps({"n": i}), None, None, 0, 3, None) for i in range(n))
    )
    conn.execute("COMMIT")
    conn.close()


async def consume(
    next_item: Callable[[], Awaitable[Any]], style: str, n: int, then: Callable[[Any], Any]
) -> float:
    """CPU µs per item of ``n`` awaits of ``next_item()`` in ``style``, each
    result passed to ``then`` (the job's ack)."""
    t0 = time.thread_time()
    if style == "wait_for":
        for _ in range(n):
            then(await asyncio.wait_for(next_item(), 5))
    elif style == "timeout":
        for _ in range(n):
            async with asyncio.timeout(5):
                item = await next_item()
            then(item)
    else:
        for _ in range(n):
            then(await next_item())
    return (time.thread_time() - t0) / n * 1e6


async def nothing() -> None:
    return None


def _ignore(_: Any) -> None:
    pass


def before(it: Any) -> Callable[[], Awaitable[Any]]:
    """``__anext__`` as it was before issue 15: a coroutine around ``until``."""

    async def anext_before() -> Any:
        return await until(it._updates, it._step)

    return anext_before


async def run(jobs: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    dbs = {}
    for style in STYLES:
        path = tmp_db()
        fill(path, jobs * rounds + 10)
        dbs[style] = honker.open(path)
    iters = {style: db.queue("q").claim("w") for style, db in dbs.items()}
    per_round: dict[str, list[float]] = {style: [] for style in STYLES}
    alone: dict[str, float] = {}
    try:
        for r in range(rounds):
            order = STYLES[r % len(STYLES) :] + STYLES[: r % len(STYLES)]
            for style in order:
                it = iters[style]
                nxt = before(it) if style.startswith("coroutine") else it.__anext__
                us = await consume(nxt, style, jobs, honker.Job.ack)
                per_round[style].append(us)
                us = await consume(nothing, style, jobs * 4, _ignore)
                alone[style] = min(alone.get(style, us), us)
    finally:
        for it in iters.values():
            it.close()
        for db in dbs.values():
            db.close()
    return per_round, alone


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args(argv)
    per_round, alone = asyncio.run(run(a.jobs, a.rounds))
    rows: list[dict[str, object]] = []
    print(
        f"{'consumer style':<22} {'best µs/job':>12} {'vs plain: median':>17} {'range':>13}"
        f" {'asyncio alone µs':>17}"
    )
    plain = per_round["plain"]
    for style in STYLES:
        ratios = sorted(us / p for us, p in zip(per_round[style], plain, strict=True))
        median = statistics.median(ratios)
        print(
            f"{style:<22} {min(per_round[style]):>12.1f} {median:>16.2f}x"
            f" {ratios[0]:>6.2f}–{ratios[-1]:.2f}x {alone[style]:>17.1f}"
        )
        rows.append(
            {
                "figure": f"claim + ack in process, {style}",
                "us_per_job_best": min(per_round[style]),
                "ratio_to_plain_median": median,
                "ratio_to_plain_min": ratios[0],
                "ratio_to_plain_max": ratios[-1],
                "asyncio_alone_us": alone[style],
            }
        )
    save("styles", rows)
    return rows


if __name__ == "__main__":
    main()
