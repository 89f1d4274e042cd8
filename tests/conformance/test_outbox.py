"""The transactional outbox (docs/spec/python-api.md §13, docs/spec/engine.md §5.1 backoff, sharp
edge 30)."""

from __future__ import annotations

import asyncio

import pytest
from helpers import async_wait_until, within

import honker
from honker._outbox import Outbox


def _live(db, name: str = "_outbox:hooks") -> list[dict]:
    return db.query(
        "SELECT id, payload, state, attempts, max_attempts, run_at - unixepoch() AS due_in"
        " FROM _honker_live WHERE queue = ? ORDER BY id",
        [name],
    )


def _dead(db, name: str = "_outbox:hooks") -> list[dict]:
    return db.query(
        "SELECT payload, attempts, last_error FROM _honker_dead WHERE queue = ? ORDER BY id",
        [name],
    )


def _make_due(db) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_live SET run_at = unixepoch() WHERE state = 'pending'")


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task)


def test_outbox_memo_and_options(db):
    def deliver(payload):
        return None

    box = db.outbox("hooks", deliver)
    assert isinstance(box, Outbox) and honker.Outbox is Outbox
    assert db.outbox("hooks", deliver) is box
    assert db._outboxes["hooks"] is box
    assert (box.db, box.name, box.delivery, box.max_attempts, box.base_backoff_s) == (
        db,
        "hooks",
        deliver,
        5,
        5,
    )
    assert box.queue is db.queue("_outbox:hooks")
    assert (box.queue.visibility_timeout_s, box.queue.max_attempts) == (60, 5)
    assert db.outbox("hooks", deliver, max_attempts="5", base_backoff_s=5.9) is box  # int()


def test_outbox_conflicts_and_type_errors(db):
    def deliver(payload):
        return None

    db.outbox("hooks", deliver)
    message = (
        "outbox 'hooks' already opened with different options or a different delivery callable"
    )
    with pytest.raises(ValueError, match=f"^{message}$"):
        db.outbox("hooks", lambda p: None)  # a different object, however similar
    with pytest.raises(ValueError, match=f"^{message}$"):
        db.outbox("hooks", deliver, max_attempts=6)
    with pytest.raises(TypeError, match=r"^delivery must be callable$"):
        db.outbox("hooks", "not callable")  # checked before the memo lookup
    db.queue("_outbox:other", visibility_timeout_s=5)
    with pytest.raises(ValueError):
        db.outbox("other", deliver)  # its queue exists with other options


def test_first_outbox_inside_a_transaction_raises(db):
    with db.transaction():
        with pytest.raises(RuntimeError):
            db.outbox("hooks", print)
    assert "hooks" not in db._outboxes


def test_enqueue_joins_the_transaction_and_returns_none(db):
    box = db.outbox("hooks", print)
    with db.transaction() as tx:
        tx.execute("CREATE TABLE orders (id INTEGER)")  # both dialects
        assert box.enqueue({"order": 1}, tx=tx, priority=2, delay=30) is None
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            box.enqueue({"order": 2}, tx=tx)
            1 / 0  # noqa: B018
    box.enqueue({"order": 3}, None, 0, None, None, 60)  # positional order: tx, priority, ...
    rows = _live(db)
    assert [r["payload"] for r in rows] == ['{"order": 1}', '{"order": 3}']
    assert 29 <= rows[0]["due_in"] <= 30
    assert {r["max_attempts"] for r in rows} == {5}
    expires = db.query("SELECT expires_at - unixepoch() AS e FROM _honker_live ORDER BY id")
    assert expires[0]["e"] is None and 59 <= expires[1]["e"] <= 60


async def test_run_worker_delivers_sync_and_async_callables(db):
    got_sync: list = []
    got_async: list = []

    async def deliver_async(payload):
        await asyncio.sleep(0)
        got_async.append(payload)

    sync_box = db.outbox("s", got_sync.append)
    async_box = db.outbox("a", deliver_async)
    for i in range(3):
        sync_box.enqueue(i)
        async_box.enqueue({"i": i})
    tasks = [
        asyncio.create_task(sync_box.run_worker("w1")),
        asyncio.create_task(async_box.run_worker("w2")),
    ]
    await async_wait_until(lambda: len(got_sync) == 3 and len(got_async) == 3)
    await async_wait_until(lambda: not _live(db, "_outbox:s") and not _live(db, "_outbox:a"))
    for t in tasks:
        await _stop(t)
    assert got_sync == [0, 1, 2]
    assert got_async == [{"i": 0}, {"i": 1}, {"i": 2}]


async def test_failures_back_off_exponentially_then_dead_letter(db):
    calls: list = []

    def deliver(payload):
        calls.append(payload)
        raise ConnectionError(f"refused #{len(calls)}")

    box = db.outbox("hooks", deliver, max_attempts=3, base_backoff_s=7)
    box.enqueue("ping")
    task = asyncio.create_task(box.run_worker("w"))
    try:
        for attempt, backoff in ((1, 7), (2, 14)):
            await async_wait_until(
                lambda a=attempt: len(calls) == a and _live(db)[0]["state"] == "pending"
            )
            (row,) = _live(db)
            assert row["attempts"] == attempt
            assert backoff - 1 <= row["due_in"] <= backoff  # base * 2**(attempts-1)
            _make_due(db)  # move time instead of waiting for the backoff
        await async_wait_until(lambda: len(_dead(db)) == 1)
    finally:
        await _stop(task)
    assert _live(db) == []
    (dead,) = _dead(db)
    assert dead["attempts"] == 3
    first_line, rest = dead["last_error"].split("\n", 1)
    assert first_line == "refused #3"
    assert rest.startswith("Traceback (most recent call last):")
    assert "ConnectionError: refused #3" in rest


async def test_cancelling_the_worker_leaves_the_message_processing(db):
    started = asyncio.Event()

    async def slow(payload):
        started.set()
        await asyncio.sleep(3600)

    box = db.outbox("hooks", slow)
    box.enqueue("x")
    task = asyncio.create_task(box.run_worker("w"))
    await within(started.wait())
    await _stop(task)
    (row,) = _live(db)
    assert (row["state"], row["attempts"]) == ("processing", 1)
