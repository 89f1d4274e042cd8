"""Locks, rate limits and the scheduler on PostgreSQL: what the conformance
suite cannot show from one machine's clock (the server's clock rules, not the
client's) and the overview's rows against SQLite's."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import async_wait_until, sql, wait_until, within

import honker

LOCK = "honker-scheduler"


def _jobs(db: honker.Database, queue: str) -> int:
    return int(db.query("SELECT count(*) AS n FROM _honker_live WHERE queue = ?", [queue])[0]["n"])


def _owner(db: honker.Database) -> str | None:
    rows = db.query("SELECT owner FROM _honker_locks WHERE name = ?", [LOCK])
    return rows[0]["owner"] if rows else None


@pytest.fixture(params=[3600, -3600], ids=["ahead", "behind"])
def client_clock_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """This process's wall clock, an hour ahead of or behind the server's."""
    real, offset = time.time, int(request.param)
    monkeypatch.setattr(time, "time", lambda: real() + offset)
    return offset


def test_tick_fires_by_the_servers_clock(db: honker.Database, client_clock_off: int) -> None:
    sched = honker.Scheduler(db)
    sched.add(name="n", queue="q", schedule=honker.every_s(600))
    (server_now,) = [r["t"] for r in db.query("SELECT unixepoch() AS t")]
    (row,) = sched.list()
    assert server_now + 599 <= row["next_fire_at"] <= server_now + 601  # the server's now
    assert sched.tick() == []  # a client-clock tick an hour ahead would fire six boundaries
    assert abs(sched.clock() - server_now) <= 2
    sql(db, "UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 1")
    assert [f["name"] for f in sched.tick()] == ["n"]  # an hour behind would fire nothing


async def test_the_leader_ticks_by_the_servers_clock(
    db: honker.Database, client_clock_off: int
) -> None:
    sched = honker.Scheduler(db)
    sched.add(name="later", queue="later", schedule=honker.every_s(600))
    sched.add(name="due", queue="due", schedule=honker.every_s(600))
    sql(db, "UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 1 WHERE name = 'due'")
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    await async_wait_until(lambda: _jobs(db, "due") == 1 or task.done(), timeout=10)
    assert _jobs(db, "later") == 0  # the same tick, at the server's now
    stop.set()
    await within(task)


async def test_a_standby_takes_over_an_expired_lock_by_the_servers_clock(
    db: honker.Database, client_clock_off: int
) -> None:
    """A killed leader's row, expired by the server's clock: the standby takes
    over at once, whatever this process's clock says (an hour behind, the
    client clock would keep it waiting)."""
    sched = honker.Scheduler(db)
    sched.add(name="n", queue="q", schedule=honker.every_s(3600))
    sql(db, "INSERT INTO _honker_locks VALUES (?, 'killed', unixepoch() + 2)", LOCK)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop, standby=True))
    await asyncio.sleep(0)
    assert _owner(db) == "killed"
    sql(db, "UPDATE _honker_locks SET expires_at = unixepoch() WHERE name = ?", LOCK)
    await async_wait_until(lambda: _owner(db) not in (None, "killed") or task.done(), timeout=10)
    assert not task.done()
    stop.set()
    await within(task)
    assert _owner(db) is None


def test_the_lock_expiry_is_the_servers(db: honker.Database, client_clock_off: int) -> None:
    with db.lock("job", ttl=60):
        (row,) = db.query("SELECT expires_at - unixepoch() AS left FROM _honker_locks")
        assert 59 <= row["left"] <= 60


def _fill(db: honker.Database) -> Any:
    sched = honker.Scheduler(db)
    sched.add(name="b", queue="q", schedule=honker.crontab("0 3 * * *"), priority=2, expires=30)
    sched.add(name="a", queue="q", schedule=honker.every_s(60), max_attempts=5)
    sched.pause("a")
    db.lock("held", ttl=60, owner="me").__enter__()
    for _ in range(3):
        db.try_rate_limit("api", 10, 10**9)
    db.try_rate_limit("other", 10, 10**9)
    sql(db, "INSERT INTO _honker_rate_limits VALUES ('api', 0, 99)")  # an older window


def test_the_overview_rows_match_sqlites(db: honker.Database, tmp_path: Path) -> None:
    lite = honker.open(str(tmp_path / "t.db"))
    try:
        _fill(lite)
        want = lite._read(lambda o: o.overview())
    finally:
        lite.close()
    _fill(db)
    got = db._read(lambda o: (o.schedule_rows(), o.lock_rows(), o.rate_limit_rows()))

    def without_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        times = ("next_fire_at", "expires_at")
        return [{k: v for k, v in r.items() if k not in times} for r in rows]

    for key, rows in zip(("schedules", "locks", "rate_limits"), got, strict=True):
        assert [list(r) for r in rows] == [list(r) for r in want[key]], key
        assert without_times(rows) == without_times(want[key]), key
    assert [r["enabled"] for r in got[0]] == [False, True]


def test_a_tick_waits_for_a_concurrent_tick_and_fires_nothing_twice(
    db: honker.Database, open_db: Any, pg_url: str, admin: Any
) -> None:
    """Two ticks at once (a leader's last and its successor's first): the
    second waits for the first's row locks, then finds the boundary moved."""
    sched = honker.Scheduler(db)
    sched.add(name="n", queue="q", schedule=honker.every_s(60))
    sql(db, "UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 1")
    other = honker.Scheduler(open_db(pg_url))
    with db.transaction() as tx:
        first = db._backend.run_in(tx, lambda o: o.schedule_tick(o.now()))
        assert [f[2] for f in first] == ["n"]
        second = threading.Thread(target=lambda: result.append(other.tick()))
        result: list[Any] = []
        second.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        wait_until(lambda: admin.execute(waiting).fetchone()[0] == 1)
        assert second.is_alive()  # waiting for the due row, not firing it
    second.join(10)
    assert result == [[]]
    assert _jobs(db, "q") == 1
