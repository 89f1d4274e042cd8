"""A cancelled wait on the claim iterator never strands a job (issue 15).

However a consumer bounds its wait (``asyncio.wait_for(it.__anext__(), t)``,
``async with asyncio.timeout(t)``, ``task.cancel()``), a cancelled wait either
returns the job it claimed or leaves it unclaimed: no job is left
``processing`` for a worker that never saw it, waiting out its visibility
timeout.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest
from helpers import async_wait_until, sql, within

import honker


def processing_ids(db: honker.Database) -> set[int]:
    rows = sql(db, "SELECT id FROM _honker_live WHERE state = 'processing'")
    return {r["id"] for r in rows}


async def test_cancelled_task_right_after_a_commit_leaves_the_job_pending(
    db: honker.Database,
) -> None:
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing: it waits on the watcher
    job_id = q.enqueue("x")  # commits; the wake-up is on its way
    task.cancel()  # ... and the wait is cancelled before the task runs again
    with pytest.raises(asyncio.CancelledError):
        await task
    assert processing_ids(db) == set()
    assert q.get_job(job_id)["state"] == "pending"
    assert (await within(anext(jobs))).id == job_id  # the same iterator still works


@pytest.mark.parametrize("style", ["wait_for", "timeout", "cancel"])
async def test_bounded_waits_under_load_strand_no_job(db: honker.Database, style: str) -> None:
    """Three consumers time out constantly while a thread enqueues at random gaps:
    every job reaches a consumer exactly once and none stays claimed."""
    q = db.queue("q")
    total = 300
    rng = random.Random(15)
    gaps = [rng.choice((0.0, 0.0005, 0.001, 0.003)) for _ in range(total)]
    produced = threading.Event()

    def produce() -> None:
        for i, gap in enumerate(gaps):
            q.enqueue(i)
            produced.wait(gap)  # a paced producer, not a synchronising sleep
        produced.set()

    got: list[int] = []
    timeouts = 0

    async def next_job(it: Any) -> honker.Job | None:
        nonlocal timeouts
        limit = rng.choice((0.0001, 0.0005, 0.002))
        try:
            if style == "wait_for":
                return await asyncio.wait_for(it.__anext__(), limit)
            if style == "timeout":
                async with asyncio.timeout(limit):
                    return await anext(it)
            task = asyncio.create_task(anext(it))
            done, _ = await asyncio.wait({task}, timeout=limit)
            if not done:
                task.cancel()
            return await task
        except (TimeoutError, asyncio.CancelledError):
            timeouts += 1
            return None

    async def consume(worker: str) -> None:
        it = q.claim(worker, idle_poll_s=None)
        while len(got) < total:
            job = await next_job(it)
            if job is not None:
                got.append(job.payload)
                assert job.ack()
        it.close()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        await within(asyncio.gather(*(consume(f"w{i}") for i in range(3))), 60)
    finally:
        producer.join()
    assert sorted(got) == list(range(total))
    assert timeouts > 0  # the bounded waits did expire, often
    await async_wait_until(lambda: processing_ids(db) == set(), 5)
