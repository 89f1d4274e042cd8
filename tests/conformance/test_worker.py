"""run_task, _compute_delay and the run_workers pool (docs/spec/python-api.md §16.6-16.7, §10).

Every test drives real claims on a real file. Time is whole seconds, so
retry delays are checked as ``run_at - now`` within one second; waits are
on conditions (``async_wait_until``), never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import pytest
from helpers import async_wait_until, within

import honker
from honker import _worker
from honker._tasks import _ENVELOPE, Retryable, TaskRegistry
from honker._worker import _compute_delay, _drain_loop, run_task, run_workers

pytestmark = pytest.mark.usefixtures("clean_registry")


def claim(q: honker.Queue) -> honker.Job:
    job = q.claim_one("w")
    assert job is not None
    return job


def live(db: honker.Database, job_id: int) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM _honker_live WHERE id=?", [job_id])
    return rows[0] if rows else None


def dead(db: honker.Database, job_id: int) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM _honker_dead WHERE id=?", [job_id])
    return rows[0] if rows else None


def db_now(db: honker.Database) -> int:
    return int(db.query("SELECT unixepoch() AS now")[0]["now"])


def assert_delay(db: honker.Database, job_id: int, delay: int) -> None:
    row = live(db, job_id)
    assert row is not None and row["state"] == "pending" and row["worker_id"] is None
    assert delay - 1 <= row["run_at"] - db_now(db) <= delay


# -- _compute_delay -------------------------------------------------------------------


def test_compute_delay_formula() -> None:
    assert [_compute_delay(60, 2.0, k) for k in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert _compute_delay(60, 1.0, 9) == 60
    assert _compute_delay(1.5, 1.0, 1) == 1  # truncated
    assert _compute_delay(10, 3.0, 0) == 10  # attempts below 1 count as the first
    assert _compute_delay(10, 2.0, "3") == 40  # type: ignore[arg-type]  honker int()s it


# -- run_task -------------------------------------------------------------------------


async def test_success_saves_the_result_then_acks(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue({"n": 20})

    async def handler(payload: Any) -> Any:
        return {"double": payload["n"] * 2}

    await run_task(claim(q), handler, save_result=True, result_ttl=100)
    assert live(db, job_id) is None and dead(db, job_id) is None
    assert q.get_result(job_id) == (True, {"double": 40})
    row = db.query("SELECT expires_at - created_at AS ttl FROM _honker_results")[0]
    assert 99 <= row["ttl"] <= 101


async def test_success_without_save_result_stores_nothing(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue(1)
    await run_task(claim(q), lambda payload: payload + 1)  # sync handler: called inline
    assert live(db, job_id) is None
    assert q.get_result(job_id) == (False, None)


async def test_exception_retries_with_the_backoff_formula(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")
    job = claim(q)
    assert job.retry(delay_s=0)  # second delivery: attempts == 2
    job = claim(q)
    assert job.attempts == 2

    def boom(payload: Any) -> None:
        raise KeyError("nope")

    await run_task(job, boom, retry_delay=10, backoff=3.0)
    assert_delay(db, job_id, 30)


async def test_exception_error_text_carries_the_traceback(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    async def boom(payload: Any) -> None:
        raise ValueError("bad input")

    await run_task(claim(q), boom, retries=1)
    row = dead(db, job_id)
    assert row is not None
    first, rest = row["last_error"].split("\n", 1)
    assert first == "bad input"
    assert rest.startswith("Traceback (most recent call last):")
    assert "ValueError: bad input" in rest


async def test_retryable_sets_the_delay_exactly(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    async def later(payload: Any) -> None:
        raise Retryable("rate limited", delay_s=7)

    await run_task(claim(q), later, retry_delay=1000, backoff=5.0)
    assert_delay(db, job_id, 7)


async def test_retryable_still_respects_the_budget(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    def later(payload: Any) -> None:
        raise Retryable("rate limited", delay_s=7)

    await run_task(claim(q), later, retries=1)
    assert dead(db, job_id)["last_error"] == "rate limited"  # type: ignore[index]


async def test_timeout_on_an_async_handler(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    async def slow(payload: Any) -> None:
        await asyncio.Event().wait()

    await within(run_task(claim(q), slow, timeout=0.05, retries=1))
    assert dead(db, job_id)["last_error"] == "timeout after 0.05s"  # type: ignore[index]


async def test_timeout_error_raised_by_the_handler_without_timeout(db: honker.Database) -> None:
    q = db.queue("q")
    first, second = q.enqueue("a"), q.enqueue("b")

    async def raises(payload: Any) -> None:
        raise TimeoutError("upstream")

    await run_task(claim(q), raises, retries=1)
    assert dead(db, first)["last_error"] == "handler timeout"  # type: ignore[index]
    await run_task(claim(q), raises, timeout=3, retries=1)
    assert dead(db, second)["last_error"] == "timeout after 3s"  # type: ignore[index]


async def test_retries_budget_fails_instead_of_retrying(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=10)
    job_id = q.enqueue("x")

    async def boom(payload: Any) -> None:
        raise RuntimeError("again")

    job = claim(q)
    await run_task(job, boom, retries=2, retry_delay=0)
    assert live(db, job_id)["state"] == "pending"  # type: ignore[index]  attempt 1 < 2
    job = claim(q)
    await run_task(job, boom, retries=2, retry_delay=0)
    row = dead(db, job_id)
    assert row is not None and row["attempts"] == 2
    assert row["last_error"].startswith("again\n")


async def test_row_max_attempts_dead_letters_through_retry(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    job_id = q.enqueue("x")

    async def boom(payload: Any) -> None:
        raise RuntimeError("once")

    await run_task(claim(q), boom)  # retries=None: retry() itself dead-letters
    assert dead(db, job_id)["last_error"].startswith("once\n")  # type: ignore[index]


async def test_result_save_failure_is_logged_and_the_job_still_acked(
    db: honker.Database, caplog: pytest.LogCaptureFixture
) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    async def unserialisable(payload: Any) -> object:
        return object()

    with caplog.at_level(logging.ERROR, logger="honker.worker"):
        await run_task(claim(q), unserialisable, save_result=True)
    assert live(db, job_id) is None and dead(db, job_id) is None
    assert q.get_result(job_id) == (False, None)
    [record] = [r for r in caplog.records if r.name == "honker.worker"]
    assert f"job {job_id}" in record.getMessage() and record.exc_info is not None


async def test_cancellation_propagates_and_leaves_the_job(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")
    started = asyncio.Event()

    async def hang(payload: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(run_task(claim(q), hang))
    await within(started.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert live(db, job_id)["state"] == "processing"  # type: ignore[index]


async def test_sync_handler_returning_a_coroutine_is_not_awaited(db: honker.Database) -> None:
    q = db.queue("q")
    job_id = q.enqueue("x")

    async def inner() -> int:
        return 1

    def returns_awaitable(payload: Any) -> Any:
        coro = inner()
        coro.close()  # honker stores whatever came back; close it to avoid a warning
        return "not awaited"

    await run_task(claim(q), returns_awaitable, save_result=True)
    assert q.get_result(job_id) == (True, "not awaited")


# -- the per-worker loop --------------------------------------------------------------


def envelope(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {_ENVELOPE: {"task": name, "args": list(args), "kwargs": kwargs}}


async def test_job_claimed_after_stop_is_handed_back_with_delay_zero(db: honker.Database) -> None:
    q = db.queue("q")
    kept = q.enqueue(envelope("x"))
    stop = asyncio.Event()
    stop.set()
    await within(_drain_loop(q, "w-0", TaskRegistry(), stop))
    row = live(db, kept)
    assert row is not None
    assert (row["state"], row["attempts"], row["worker_id"]) == ("pending", 1, None)
    assert row["run_at"] <= db_now(db)


async def test_shutdown_hand_back_uses_up_the_attempt(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=1)
    job_id = q.enqueue(envelope("x"))
    stop = asyncio.Event()
    stop.set()
    await within(_drain_loop(q, "w-0", TaskRegistry(), stop))
    assert dead(db, job_id)["last_error"] == "worker shutting down"  # type: ignore[index]


async def run_pool_until(
    db: honker.Database, condition: Any, *, queue: str | None = None, concurrency: int = 2
) -> None:
    """Run the pool until ``condition()`` holds, then stop it and wait for it."""
    stop = asyncio.Event()
    pool = asyncio.create_task(
        run_workers(db, queue=queue, concurrency=concurrency, stop_event=stop)
    )
    try:
        await async_wait_until(condition, timeout=10)
    finally:
        stop.set()
        await within(pool)


async def test_pool_runs_sync_and_async_tasks_and_stores_results(db: honker.Database) -> None:
    seen_threads: list[bool] = []

    @db.task()
    def add(a: int, b: int) -> int:
        import threading

        seen_threads.append(threading.current_thread() is threading.main_thread())
        return a + b

    @db.task(queue="text")
    async def shout(text: str, *, suffix: str = "") -> str:
        return text.upper() + suffix

    r1, r2 = add(2, 3), shout("hi", suffix="!")
    await run_pool_until(db, lambda: not db.query("SELECT 1 FROM _honker_live"))
    assert await r1.aget(timeout=5) == 5
    assert await r2.aget(timeout=5) == "HI!"
    assert seen_threads == [False]  # sync tasks run off the loop thread


async def test_pool_retries_a_failing_task_until_dead(db: honker.Database) -> None:
    calls: list[int] = []

    @db.task(name="flaky", retries=3, retry_delay_s=0)
    async def flaky() -> None:
        calls.append(1)
        raise RuntimeError(f"failure {len(calls)}")

    r = flaky()
    await run_pool_until(db, lambda: dead(db, r.id))
    row = dead(db, r.id)
    assert row is not None and row["attempts"] == 3 and len(calls) == 3
    assert row["last_error"].startswith("failure 3\n")


async def test_pool_dead_letters_unknown_tasks_and_raw_payloads(db: honker.Database) -> None:
    @db.task(name="known.b")
    def b() -> None: ...

    @db.task(name="known.a")
    def a() -> None: ...

    q = db.queue("default")
    unknown = q.enqueue(envelope("gone.task", 1))
    raw = q.enqueue({"just": "data"})
    raw_list = q.enqueue([_ENVELOPE])
    not_json = q.enqueue("placeholder")
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_live SET payload='not json{' WHERE id=?", [not_json])
    ids = (unknown, raw, raw_list, not_json)
    await run_pool_until(db, lambda: all(dead(db, i) for i in ids))
    assert dead(db, unknown)["last_error"] == (  # type: ignore[index]
        "unknown task: 'gone.task'. Registered tasks: ['known.a', 'known.b']"
    )
    for job_id in (raw, raw_list, not_json):
        assert dead(db, job_id)["last_error"] == (  # type: ignore[index]
            "raw (non-decorated) payload on a decorated-task queue"
        )


async def test_pool_timeout_from_the_decorator(db: honker.Database) -> None:
    @db.task(name="slow", timeout_s=0.05, retries=1)
    async def slow() -> None:
        await asyncio.Event().wait()

    r = slow()
    await run_pool_until(db, lambda: dead(db, r.id), concurrency=1)
    assert dead(db, r.id)["last_error"] == "timeout after 0.05s"  # type: ignore[index]


async def test_pool_stop_hands_back_in_flight_claims(db: honker.Database) -> None:
    started = asyncio.Event()

    @db.task(name="hang", retries=4)
    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    r = hang()
    stop = asyncio.Event()
    pool = asyncio.create_task(run_workers(db, concurrency=1, stop_event=stop))
    await within(started.wait())
    row = live(db, r.id)
    assert row is not None and row["state"] == "processing"
    assert row["worker_id"] == f"honker-worker-{os.getpid()}-default-0"
    stop.set()
    await within(pool)
    row = live(db, r.id)
    assert row is not None
    assert (row["state"], row["attempts"], row["worker_id"]) == ("pending", 1, None)
    assert row["run_at"] <= db_now(db)


async def test_cancelling_the_pool_also_hands_claims_back(db: honker.Database) -> None:
    started = asyncio.Event()

    @db.task(name="hang", retries=1)
    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    r = hang()
    pool = asyncio.create_task(run_workers(db, concurrency=1))
    await within(started.wait())
    pool.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(pool)
    # Last attempt: handing it back dead-letters it, with the shutdown text.
    assert dead(db, r.id)["last_error"] == "worker shutting down"  # type: ignore[index]


async def test_run_workers_without_tasks_raises() -> None:
    with pytest.raises(RuntimeError) as info:
        await run_workers(None)  # type: ignore[arg-type]  no db access before the check
    assert str(info.value) == (
        "run_workers() called with no tasks registered. Import the module that defines "
        "your @q.task() functions before calling run_workers()."
    )


async def test_explicit_queue_is_served_without_tasks(db: honker.Database) -> None:
    q = db.queue("bare")
    job_id = q.enqueue({"raw": 1})
    await run_pool_until(db, lambda: dead(db, job_id), queue="bare", concurrency=1)


async def test_private_registry_and_database_method(db: honker.Database) -> None:
    reg = TaskRegistry()
    done: list[str] = []
    reg.register(honker._tasks.TaskSpec(name="p", fn=done.append, queue_name="priv"))
    job_id = db.queue("priv").enqueue(envelope("p", "ran"))
    stop = asyncio.Event()
    pool = asyncio.create_task(run_workers(db, registry_=reg, concurrency=1, stop_event=stop))
    await async_wait_until(lambda: live(db, job_id) is None)
    stop.set()
    await within(pool)
    assert done == ["ran"]
    assert db.queue("priv").get_result(job_id) == (True, None)  # store_result default True


async def test_database_run_workers_delegates(db: honker.Database) -> None:
    @db.task(name="t")
    def t() -> str:
        return "ok"

    r = t()
    stop = asyncio.Event()
    pool = asyncio.create_task(db.run_workers(concurrency=1, stop_event=stop))
    assert await r.aget(timeout=10) == "ok"
    stop.set()
    await within(pool)


async def test_worker_that_hits_a_db_error_logs_and_ends(
    db: honker.Database, caplog: pytest.LogCaptureFixture
) -> None:
    q = db.queue("q")
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="honker.worker"):
        worker = asyncio.create_task(_drain_loop(q, "w-err", TaskRegistry(), stop))
        await asyncio.sleep(0)  # let it subscribe and go idle
        db.close()  # the watcher dies: the waiting claim raises
        await within(worker)
    assert any("w-err" in r.getMessage() for r in caplog.records)


def test_module_constants() -> None:
    assert _worker.SHUTDOWN_ERROR == "worker shutting down"
    assert (
        json.dumps(envelope("a", 1))
        == '{"__honker_task__": {"task": "a", "args": [1], "kwargs": {}}}'
    )
