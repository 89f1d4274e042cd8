"""Job results: save_result / get_result / wait_result / sweep_results
(docs/spec/python-api.md §9.6; docs/spec/engine.md §4.5). Expiry is moved with SQL, never slept
for."""

from __future__ import annotations

import asyncio
import threading

import pytest
from helpers import db_now, sql, within

import honker


@pytest.fixture
def q(db: honker.Database) -> honker.Queue:
    return db.queue("q")


def _result_row(db: honker.Database, job_id: int) -> dict | None:
    rows = db.query("SELECT * FROM _honker_results WHERE job_id = ?", [job_id])
    return rows[0] if rows else None


def test_save_and_get(db: honker.Database, q: honker.Queue) -> None:
    assert q.get_result(1) == (False, None)
    q.save_result(1, {"total": 3})
    q.save_result(2, None)
    assert q.get_result(1) == (True, {"total": 3})
    assert q.get_result(2) == (True, None), "a stored JSON null is not 'absent'"
    assert _result_row(db, 1)["value"] == '{"total": 3}'
    assert _result_row(db, 2)["value"] == "null"


def test_results_are_keyed_by_job_id_across_queues(db: honker.Database, q: honker.Queue) -> None:
    job_id = q.enqueue(1)
    db.queue("other").save_result(job_id, "from elsewhere")
    assert q.get_result(job_id) == (True, "from elsewhere")
    assert q.get_result(job_id + 1) == (False, None)


def test_ttl(db: honker.Database, q: honker.Queue) -> None:
    for job_id, ttl in ((1, None), (2, 0.5), (3, 0), (4, -10)):
        q.save_result(job_id, job_id, ttl=ttl)
        assert _result_row(db, job_id)["expires_at"] is None, f"ttl={ttl}: no expiry"
    before = db_now(db)
    q.save_result(5, "x", ttl=10.9)
    after = db_now(db)
    assert before + 10 <= _result_row(db, 5)["expires_at"] <= after + 10


def test_expired_results_are_absent(db: honker.Database, q: honker.Queue) -> None:
    q.save_result(1, "v", ttl=100)
    sql(db, "UPDATE _honker_results SET expires_at = unixepoch() WHERE job_id = 1")
    assert q.get_result(1) == (False, None), "expired at expires_at <= now"
    sql(db, "UPDATE _honker_results SET expires_at = unixepoch() + 100 WHERE job_id = 1")
    assert q.get_result(1) == (True, "v")


def test_resave_replaces_value_and_expiry_but_keeps_created_at(
    db: honker.Database, q: honker.Queue
) -> None:
    q.save_result(1, "first", ttl=100)
    sql(db, "UPDATE _honker_results SET created_at = 12345 WHERE job_id = 1")
    q.save_result(1, "second")
    row = _result_row(db, 1)
    assert (row["value"], row["expires_at"], row["created_at"]) == ('"second"', None, 12345)


def test_save_result_joins_the_callers_transaction(db: honker.Database, q: honker.Queue) -> None:
    with pytest.raises(LookupError):
        with db.transaction() as tx:
            q.save_result(1, "dropped", tx=tx)
            raise LookupError
    assert q.get_result(1) == (False, None)
    with db.transaction() as tx:
        q.save_result(1, "kept", tx=tx)
    assert q.get_result(1) == (True, "kept")


def test_unserialisable_result(q: honker.Queue) -> None:
    with pytest.raises(TypeError):
        q.save_result(1, object())
    assert q.get_result(1) == (False, None)


def test_sweep_results_is_database_wide(db: honker.Database, q: honker.Queue) -> None:
    other = db.queue("other")
    q.save_result(1, "a", ttl=100)
    other.save_result(2, "b", ttl=100)
    q.save_result(3, "forever")
    q.save_result(4, "fresh", ttl=100)
    sql(db, "UPDATE _honker_results SET expires_at = unixepoch() WHERE job_id IN (1, 2)")
    assert q.sweep_results() == 2
    assert [r["job_id"] for r in db.query("SELECT job_id FROM _honker_results ORDER BY 1")] == [
        3,
        4,
    ]
    assert other.sweep_results() == 0


# -- wait_result --------------------------------------------------------------------


async def test_wait_result_returns_a_stored_value_at_once(q: honker.Queue) -> None:
    q.save_result(1, [1, 2])
    assert await within(q.wait_result(1, timeout=0)) == [1, 2]
    assert await within(q.wait_result(1)) == [1, 2]


async def test_wait_result_wakes_when_another_thread_saves(q: honker.Queue) -> None:
    waiter = asyncio.create_task(q.wait_result(7, timeout=10))
    await asyncio.sleep(0)  # it checked once and now waits on the watcher
    assert not waiter.done()
    t = threading.Thread(target=q.save_result, args=(7, {"ok": True}))
    t.start()
    assert await within(waiter) == {"ok": True}
    t.join()


async def test_wait_result_returns_a_stored_null(q: honker.Queue) -> None:
    waiter = asyncio.create_task(q.wait_result(7, timeout=10))
    await asyncio.sleep(0)
    q.save_result(7, None)
    assert await within(waiter) is None


async def test_wait_result_timeout(q: honker.Queue) -> None:
    with pytest.raises(TimeoutError) as info:
        await within(q.wait_result(42, timeout=0.05))
    assert isinstance(info.value, asyncio.TimeoutError)
    assert str(info.value) == "wait_result(42) timed out"


async def test_wait_result_timeout_zero_checks_once(q: honker.Queue) -> None:
    with pytest.raises(TimeoutError, match=r"^wait_result\(42\) timed out$"):
        await within(q.wait_result(42, timeout=0))
