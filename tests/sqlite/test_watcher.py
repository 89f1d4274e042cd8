"""db.update_events() and the polling watcher (docs/spec/python-api.md §7; docs/spec/engine.md
§8.1-8.3; sharp edges 2, 3 and 19)."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
from helpers import async_wait_until, honker_threads, within

import honker

WATCHER_DIED = (
    "honker: update watcher died (database file likely replaced; recreate honker.open() to recover)"
)
QUIET_S = 0.3  # how long "no tick" is watched for; only ever a negative check


@pytest.fixture(params=[None, "polling", "kernel", "shm"])
def db(request: pytest.FixtureRequest, open_db, db_path: str) -> honker.Database:
    """Every test here runs against each watcher backend this build has."""
    try:
        return open_db(db_path, watcher_backend=request.param)
    except ValueError as exc:
        if "requires the" in str(exc):
            pytest.skip(str(exc))  # honker's own convention for absent backends
        raise


def _commit(db: honker.Database) -> None:
    with db.transaction() as tx:
        tx.notify("ch", 1)


async def _no_tick(updates: honker._honker_native.UpdateEvents) -> bool:
    try:
        await asyncio.wait_for(anext(updates), QUIET_S)
    except TimeoutError:
        return True
    return False


async def test_a_commit_wakes_a_subscription(db: honker.Database, db_path: str) -> None:
    updates = db.update_events()
    assert updates.__aiter__() is updates
    assert os.path.samefile(updates.path, db_path)
    _commit(db)
    assert await within(anext(updates), 5) is None


async def test_a_tick_before_the_first_iteration_is_kept(db: honker.Database) -> None:
    updates = db.update_events()
    _commit(db)
    # Nobody is iterating yet when the watcher delivers the tick.
    await async_wait_until(lambda: updates._pending, 5)
    await within(anext(updates), 5)


async def test_every_subscription_gets_the_tick(db: honker.Database) -> None:
    subs = [db.update_events() for _ in range(3)]
    assert len(honker_threads()) == 1, "one shared watcher thread"
    _commit(db)
    for sub in subs:
        await within(anext(sub), 5)


async def test_commits_from_other_connections_wake(db: honker.Database, db_path: str) -> None:
    updates = db.update_events()
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("CREATE TABLE unrelated (x)")  # any table: wakes are not filtered
    finally:
        other.close()
    await within(anext(updates), 5)


async def test_bursts_coalesce(db: honker.Database) -> None:
    updates = db.update_events()
    for _ in range(50):
        _commit(db)
    await within(anext(updates), 5)
    # Fifty commits coalesce into a handful of ticks: the one we took, plus
    # at most a couple the watcher fired for the burst's tail after we took
    # it (it can be descheduled mid-burst); then it goes quiet.
    extra = 0
    while not await _no_tick(updates):
        extra += 1
        assert extra <= 3, "a burst of 50 commits must coalesce"


async def test_rollbacks_and_empty_transactions_do_not_wake(db: honker.Database) -> None:
    q = db.queue("q")  # schema work commits before the watcher exists
    updates = db.update_events()
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            tx.notify("ch", 1)
            1 / 0  # noqa: B018
    with db.transaction() as tx:
        tx.query("SELECT 1")
    assert q.claim_one("idle") is None
    assert q._next_claim_at() == 0
    assert await _no_tick(updates), "idle workers must not wake each other"


async def test_replacing_the_file_kills_the_watcher(
    db: honker.Database, db_path: str, tmp_path
) -> None:
    updates = db.update_events()
    listener = db.listen("ch", fallback_poll_s=None)
    honker.open(str(tmp_path / "other.db")).close()
    os.replace(tmp_path / "other.db", db_path)
    for iterator in (updates, listener):
        with pytest.raises(RuntimeError) as info:
            for _ in range(10):  # a few wakes may come first
                await within(anext(iterator), 5)
        assert str(info.value) == WATCHER_DIED
    await async_wait_until(lambda: not honker_threads(), 5, message="the watcher thread ends")


async def test_close_kills_subscriptions(db: honker.Database) -> None:
    updates = db.update_events()
    waiting = asyncio.create_task(anext(updates))
    await asyncio.sleep(0)
    db.close()
    with pytest.raises(RuntimeError) as info:
        await within(waiting, 5)
    assert str(info.value) == WATCHER_DIED
    assert not honker_threads()


async def test_no_new_watcher_after_the_file_was_replaced(
    db: honker.Database, db_path: str, tmp_path
) -> None:
    """After death, new subscriptions fail loudly instead of watching the new file."""
    updates = db.update_events()
    honker.open(str(tmp_path / "other.db")).close()
    os.replace(tmp_path / "other.db", db_path)
    with pytest.raises(RuntimeError):
        for _ in range(10):
            await within(anext(updates), 5)
    for later in (db.update_events(), db.listen("ch", fallback_poll_s=None)):
        with pytest.raises(RuntimeError) as info:
            await within(anext(later), 5)
        assert str(info.value) == WATCHER_DIED
    await async_wait_until(lambda: not honker_threads(), 5, message="no watcher thread is left")
