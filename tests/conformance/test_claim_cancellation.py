"""A cancelled wait on the claim iterator never strands a job (issue 15).

However a consumer bounds its wait (``asyncio.wait_for(it.__anext__(), t)``,
``async with asyncio.timeout(t)``, ``task.cancel()``), a cancelled wait either
returns the job it claimed, or leaves it unclaimed, or (a job claimed in the
background for a consumer cancelled before it resumed) releases the claim at
once: no job is left ``processing`` for a worker that never saw it, waiting
out its visibility timeout.

On Python 3.11 ``it.__anext__()`` is both a coroutine and an asyncio Future
(honker/_waiting.py ``Next``); the tests below use it each way (those of the
Future form only where it is one: ``future_form``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from helpers import async_wait_until, sql, within

import honker
from honker._queue import NEXT_AS_FUTURE

# What only the Future form does (Python 3.11; on 3.12+ __anext__ is a plain coroutine).
future_form = pytest.mark.skipif(
    not NEXT_AS_FUTURE, reason="Python 3.12+: __anext__ is a plain coroutine (NEXT_AS_FUTURE)"
)


def processing_ids(db: honker.Database) -> set[int]:
    rows = sql(db, "SELECT id FROM _honker_live WHERE state = 'processing'")
    return {r["id"] for r in rows}


def as_if_never_claimed(q: honker.Queue, job_id: int) -> bool:
    row = q.get_job(job_id)
    return row is not None and (
        row["state"],
        row["attempts"],
        row["worker_id"],
        row["claim_expires_at"],
    ) == ("pending", 0, None, None)


@future_form
async def test_cancel_between_the_claim_and_the_consumer_releases_the_job_at_once(
    db: honker.Database,
) -> None:
    """The Future form claims in the background; its consumer is cancelled in
    the same loop iteration as the claim lands, before it resumes: the claim
    is undone before the cancellation reaches the consumer, not after the
    visibility timeout."""
    q = db.queue("q", visibility_timeout_s=3600)
    jobs = q.claim("w", idle_poll_s=None)
    nxt = jobs.__anext__()

    async def consume() -> honker.Job:
        return await nxt

    consumer = asyncio.create_task(consume())
    # Runs before the consumer's own wake-up, in the iteration the job arrives.
    nxt.add_done_callback(lambda _: consumer.cancel())
    await asyncio.sleep(0)  # the consumer awaits the Future; nothing to claim yet
    job_id = q.enqueue("x")
    with pytest.raises(asyncio.CancelledError):
        await within(consumer)
    assert nxt.done() and nxt.result().id == job_id  # it was claimed ...
    assert as_if_never_claimed(q, job_id)  # ... and is back, attempt given back
    other = await within(anext(q.claim("w2", idle_poll_s=None)))
    assert (other.id, other.attempts) == (job_id, 1)
    assert other.ack()


@pytest.mark.parametrize("style", ["await", "wait_for", "timeout"])
async def test_a_ready_job_comes_without_a_loop_iteration(db: honker.Database, style: str) -> None:
    """However it is awaited, a job claimable at once takes no event-loop
    iteration (a callback scheduled before the call has not run after it):
    ``asyncio.wait_for`` gets a Future, already done, and wraps no Task."""
    q = db.queue("q")
    job_id = q.enqueue("x")
    jobs = q.claim("w", idle_poll_s=None)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "loop")
    if style == "await":
        job = await jobs.__anext__()
    elif style == "wait_for":
        job = await asyncio.wait_for(jobs.__anext__(), 5)
    else:
        async with asyncio.timeout(5):
            job = await anext(jobs)
    assert (job.id, ran) == (job_id, [])
    assert job.ack()


async def test_wait_for_timing_out_while_waiting_claims_nothing_later(
    db: honker.Database,
) -> None:
    """The background wait of a timed-out ``wait_for`` stops with it: a job
    enqueued afterwards is claimed by the next wait, not by the stale one."""
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(jobs.__anext__(), 0.05)
    job_id = q.enqueue("x")
    job = await asyncio.wait_for(jobs.__anext__(), 10)
    assert (job.id, job.attempts) == (job_id, 1)
    assert processing_ids(db) == {job_id}


async def test_wait_for_waiting_when_the_job_comes_gets_it_once(
    db: honker.Database, open_db: Any, db_path: str
) -> None:
    """``wait_for`` already waiting when a job is enqueued (by another
    connection) returns it; on Python 3.11 its waiter is released by the
    wait's driver as soon as the job is claimed (``Next._release``), and the
    job is claimed once, by that wait."""
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    other = open_db(db_path).queue("q")
    for i in range(3):
        waiting = asyncio.ensure_future(asyncio.wait_for(jobs.__anext__(), 10))
        await asyncio.sleep(0.02)  # it waits
        assert not waiting.done()
        job_id = await asyncio.to_thread(other.enqueue, i)
        job = await within(waiting)
        assert (job.id, job.attempts, job.payload) == (job_id, 1, i)
        assert processing_ids(db) == {job_id}
        assert job.ack()


async def test_a_task_cancelled_before_it_ran_claims_nothing(db: honker.Database) -> None:
    """As with a coroutine, nothing runs before the awaitable is used: a task
    cancelled before its first step claims nothing."""
    q = db.queue("q")
    job_id = q.enqueue("x")
    jobs = q.claim("w", idle_poll_s=None)
    task = asyncio.create_task(jobs.__anext__())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert as_if_never_claimed(q, job_id)
    assert (await within(anext(jobs))).id == job_id


async def test_wait_for_zero_is_a_poll(db: honker.Database) -> None:
    """``wait_for(it.__anext__(), 0)`` returns a job claimable at once (as on
    Python 3.12+, where wait_for runs a ready coroutine to its end) and
    otherwise times out having claimed nothing."""
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(jobs.__anext__(), 0)
    job_id = q.enqueue("x")
    assert (await asyncio.wait_for(jobs.__anext__(), 0)).id == job_id
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(jobs.__anext__(), 0)
    assert processing_ids(db) == {job_id}


@future_form
async def test_as_a_future_it_starts_when_asked_and_claims_in_the_background(
    db: honker.Database,
) -> None:
    """``ensure_future`` returns it unstarted; asked ``done()`` (or given a
    done callback) it starts: a ready job is claimed at once, a later one
    while nobody awaits it yet."""
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    ready = q.enqueue("ready")
    nxt = asyncio.ensure_future(jobs.__anext__())
    assert processing_ids(db) == set()  # nothing ran yet
    assert nxt.done() and nxt.result().id == ready
    waiting = asyncio.ensure_future(jobs.__anext__())
    assert not waiting.done()  # started: it waits in the background
    later = q.enqueue("later")
    await async_wait_until(waiting.done, 10)  # never awaited, yet it claimed
    assert waiting.result().id == later
    assert processing_ids(db) == {ready, later}


@future_form
async def test_asyncio_wait_refuses_it_at_once_and_nothing_is_claimed(db: honker.Database) -> None:
    """``asyncio.wait`` refuses coroutines, this one too (docs/compatibility.md):
    a TypeError before anything ran, the job still pending; ``create_task``
    is the way, on every Python."""
    q = db.queue("q")
    job_id = q.enqueue("x")
    jobs = q.claim("w", idle_poll_s=None)
    with pytest.raises(TypeError, match="coroutines is forbidden"):
        await asyncio.wait({asyncio.ensure_future(jobs.__anext__())})
    assert processing_ids(db) == set()  # refused before anything ran
    task = asyncio.create_task(jobs.__anext__())
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done and task.result().id == job_id


def test_outside_a_running_loop_it_is_a_plain_coroutine(db: honker.Database) -> None:
    """``loop.run_until_complete(it.__anext__())`` from synchronous code: a
    Future made there would belong to another loop; a coroutine is returned."""
    q = db.queue("q")
    job_id = q.enqueue("x")
    jobs = q.claim("w", idle_poll_s=None)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(jobs.__anext__()).id == job_id
    finally:
        jobs.close()
        loop.close()


async def test_every_way_of_awaiting_gets_the_job(db: honker.Database) -> None:
    """The awaitable works as a coroutine and as a Future: ``await``,
    ``create_task``, ``ensure_future``, ``gather``, ``wait_for`` and
    ``asyncio.timeout``, with a job ready and with one arriving later."""
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)

    async def timeout_style() -> honker.Job:
        async with asyncio.timeout(10):
            return await anext(jobs)

    styles: dict[str, Callable[[], Awaitable[honker.Job]]] = {
        "await": lambda: jobs.__anext__(),
        "create_task": lambda: asyncio.create_task(jobs.__anext__()),
        "ensure_future": lambda: asyncio.ensure_future(jobs.__anext__()),
        "gather": lambda: _first(asyncio.gather(jobs.__anext__())),
        "wait_for": lambda: asyncio.wait_for(jobs.__anext__(), 10),
        "timeout": timeout_style,
    }
    for name, start in styles.items():
        ready = q.enqueue(f"{name} ready")
        assert (await within(start())).id == ready, name
        waiting = asyncio.ensure_future(within(start()))
        await asyncio.sleep(0)  # let it start waiting, where it can
        later = q.enqueue(f"{name} later")
        assert (await waiting).id == later, name
    assert processing_ids(db) == set(sql_ids(db))


async def await_it(awaitable: Awaitable[honker.Job]) -> honker.Job:
    return await awaitable


async def _first(gathered: Awaitable[list[honker.Job]]) -> honker.Job:
    return (await gathered)[0]


def sql_ids(db: honker.Database) -> list[int]:
    return [r["id"] for r in sql(db, "SELECT id FROM _honker_live")]


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


@pytest.mark.parametrize("style", ["wait_for", "timeout", "cancel", "future"])
async def test_bounded_waits_under_load_strand_no_job(db: honker.Database, style: str) -> None:
    """Three consumers time out constantly while a thread enqueues at random gaps:
    every job reaches a consumer exactly once and none stays claimed."""
    q = db.queue("q")
    total = 300
    rng = random.Random(15)
    # Some gaps longer than any bounded wait, so that the consumers drain the
    # queue and time out while waiting, whatever the speed of their claims.
    gaps = [rng.choice((0.0, 0.0005, 0.001, 0.003, 0.01)) for _ in range(total)]
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
            if style == "future":
                # Used as a Future (as wait_for and gather do), it claims in
                # the background; the task awaiting it is cancelled, at times
                # after the claim and before the task resumed.
                nxt = it.__anext__()
                nxt.add_done_callback(lambda _: None)
                task = asyncio.create_task(await_it(nxt))
            else:
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
