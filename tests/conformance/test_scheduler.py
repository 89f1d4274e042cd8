"""Scheduler registrations, tick and the leader loop (docs/spec/python-api.md §15.2-15.3,
docs/spec/engine.md §4.7/§5.5, sharp edge 26).

Time is moved, not waited for: rows' ``next_fire_at`` is set with SQL, or the
scheduler's ``clock`` is replaced; the loop is observed through the database.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from helpers import async_wait_until, within

import honker
from honker._errors import ConfigError, SQLFunctionError
from honker._scheduler import NO_TASKS, NoScheduledTasksError, Scheduler

LOCK = "honker-scheduler"


def _jobs(db, queue: str = "q") -> list[dict]:
    return db.query(
        "SELECT payload, priority, max_attempts, expires_at, run_at FROM _honker_live"
        " WHERE queue = ? ORDER BY id",
        [queue],
    )


def _row(sched: Scheduler, name: str) -> dict:
    (row,) = [r for r in sched.list() if r["name"] == name]
    return row


def _set_next_fire(db, name: str, sql_expr: str) -> None:
    with db.transaction() as tx:
        tx.execute(
            f"UPDATE _honker_scheduler_tasks SET next_fire_at = {sql_expr} WHERE name = ?", [name]
        )


def _lock_owner(db, name: str = LOCK) -> str | None:
    rows = db.query("SELECT owner FROM _honker_locks WHERE name = ?", [name])
    return rows[0]["owner"] if rows else None


async def _start(sched: Scheduler, stop: asyncio.Event, **kw) -> asyncio.Task:
    """Run ``sched`` in a task and wait until it holds the lock."""
    task = asyncio.create_task(sched.run(stop, **kw))
    await async_wait_until(lambda: _lock_owner(sched.db, sched.lock_name) or task.done())
    return task


# -- registrations ----------------------------------------------------------------


def test_constants_and_attributes(db):
    s = Scheduler(db)
    assert (Scheduler.LOCK_NAME, Scheduler.LOCK_TTL, Scheduler.HEARTBEAT_INTERVAL) == (
        "honker-scheduler",
        60,
        30,
    )
    assert (s.db, s.lock_name, s.lock_ttl, s.heartbeat_interval) == (db, LOCK, 60, 30)
    assert s._registered == set()
    assert Scheduler(db, "other").lock_name == "other"
    assert honker.Scheduler is Scheduler


def test_add_and_list(db):
    s = Scheduler(db)
    before = int(time.time())
    s.add(
        name="report",
        queue="q",
        schedule=honker.every_s(60),
        payload={"a": 1},
        priority=5,
        expires=30.7,
        max_attempts=0,
    )
    after = int(time.time())
    (row,) = s.list()
    assert list(row) == [
        "cron_expr",
        "enabled",
        "expires_s",
        "max_attempts",
        "name",
        "next_fire_at",
        "payload",
        "priority",
        "queue",
    ]
    assert row["enabled"] is True
    assert before + 60 <= row["next_fire_at"] <= after + 60
    assert {k: v for k, v in row.items() if k not in ("next_fire_at", "enabled")} == {
        "cron_expr": "@every 60s",
        "expires_s": 30,
        "max_attempts": 1,  # clamped to >= 1
        "name": "report",
        "payload": '{"a": 1}',  # raw JSON text
        "priority": 5,
        "queue": "q",
    }
    assert s._registered == {"report"}
    assert _jobs(db) == []  # add() does not fire or create the queue


def test_add_is_keyword_only_and_needs_a_schedule_object(db):
    s = Scheduler(db)
    with pytest.raises(TypeError):
        s.add("n", "q", honker.every_s(1))  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.add(name="n", queue="q", schedule="* * * * *")
    with pytest.raises(TypeError):
        s.add(name="n", queue="q", schedule=honker.every_s(1), payload=object())
    assert s.list() == []


def test_add_with_an_invalid_expression_is_a_sql_function_error(db):
    s = Scheduler(db)
    with pytest.raises(RuntimeError, match=r'^cron field "61" out of range \[0,59\]') as info:
        s.add(name="n", queue="q", schedule=SimpleNamespace(expr="61 * * * *"))
    assert isinstance(info.value, SQLFunctionError)
    assert s.list() == [] and s._registered == set()


def test_re_adding_replaces_the_row_but_keeps_it_paused(db):
    s = Scheduler(db)
    s.add(name="n", queue="q1", schedule=honker.every_s(60), payload=1)
    assert s.pause("n")
    s.add(name="n", queue="q2", schedule=honker.crontab("0 3 * * *"), payload=2)
    row = _row(s, "n")
    assert (row["queue"], row["cron_expr"], row["payload"], row["enabled"]) == (
        "q2",
        "0 3 * * *",
        "2",
        False,
    )


def test_remove_pause_resume(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(60))
    assert s.pause("n") is True
    assert s.pause("n") is False  # already paused
    assert s.resume("n") is True
    assert s.resume("n") is False
    assert s.pause("missing") is False
    other = Scheduler(db)  # acts on rows registered by anyone
    assert other.remove("n") is True
    assert other.remove("n") is False
    assert s.remove("gone") is False
    assert s._registered == {"n"}  # per instance: only its own remove() discards


def test_remove_discards_from_registered(db):
    s = Scheduler(db)
    s.add(name="x", queue="q", schedule=honker.every_s(5))
    assert s.remove("x") and s._registered == set()


def test_update_changes_only_given_fields(db):
    s = Scheduler(db)
    s.add(
        name="n", queue="q", schedule=honker.every_s(60), payload=1, priority=4, expires=9,
        max_attempts=7,
    )  # fmt: skip
    base = _row(s, "n")
    assert s.update("n") is False  # nothing given
    assert s.update("missing", priority=1) is False
    assert s.update("missing", schedule=SimpleNamespace(expr="nope")) is False  # no error

    assert s.update("n", payload=None) is True
    assert _row(s, "n")["payload"] == "null"
    assert s.update("n", priority=None, payload={"b": 2}) is True
    assert _row(s, "n")["priority"] == 4
    assert s.update("n", expires=None, max_attempts=None) is True
    row = _row(s, "n")
    assert (row["expires_s"], row["max_attempts"]) == (None, 3)
    assert s.update("n", expires=12.9, max_attempts=-4, priority=-2) is True
    row = _row(s, "n")
    assert (row["expires_s"], row["max_attempts"], row["priority"]) == (12, 1, -2)
    assert row["next_fire_at"] == base["next_fire_at"]
    assert s.update("n", schedule=honker.every_s(3600)) is True
    row = _row(s, "n")
    assert row["cron_expr"] == "@every 3600s"
    assert row["next_fire_at"] >= base["next_fire_at"] + 3600 - 60


def test_update_with_an_invalid_expression_changes_nothing(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(60))
    before = s.list()
    with pytest.raises(SQLFunctionError, match="requires 5 or 6 cron fields"):
        s.update("n", schedule=SimpleNamespace(expr="nope"), payload="new")
    assert s.list() == before


# -- tick -----------------------------------------------------------------------


def test_tick_catches_up_each_boundary_once(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(10), payload={"p": 1}, priority=3)
    t0 = _row(s, "n")["next_fire_at"]
    assert s.tick(now=t0 - 1) == []
    fires = s.tick(now=t0 + 35)
    assert [f["fire_at"] for f in fires] == [t0, t0 + 10, t0 + 20, t0 + 30]
    assert list(fires[0]) == ["fire_at", "job_id", "name", "queue"]
    assert {(f["name"], f["queue"]) for f in fires} == {("n", "q")}
    assert _row(s, "n")["next_fire_at"] == t0 + 40
    assert s.tick(now=t0 + 35) == []  # the same instant again fires nothing
    jobs = _jobs(db)
    assert [(j["payload"], j["priority"], j["max_attempts"]) for j in jobs] == [
        ('{"p": 1}', 3, 3)
    ] * 4


def test_tick_caps_catch_up_at_64_and_skips_the_rest(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(10))
    t0 = _row(s, "n")["next_fire_at"]
    assert len(s.tick(now=t0 + 10_000)) == 64
    assert _row(s, "n")["next_fire_at"] == t0 + 10_010


def test_tick_skips_paused_and_uses_the_clock(db):
    now = [0.0]
    s = Scheduler(db, clock=lambda: now[0])
    s.add(name="a", queue="q", schedule=honker.every_s(10))
    s.add(name="b", queue="q", schedule=honker.every_s(10))
    s.pause("b")
    now[0] = _row(s, "a")["next_fire_at"] + 0.9
    assert [f["name"] for f in s.tick()] == ["a"]


# -- run: preconditions -----------------------------------------------------------


async def test_run_with_no_tasks_raises_before_touching_the_lock(db):
    with pytest.raises(RuntimeError) as info:
        await Scheduler(db).run()
    assert str(info.value) == NO_TASKS
    assert isinstance(info.value, NoScheduledTasksError)
    assert _lock_owner(db) is None


async def test_run_accepts_tasks_registered_elsewhere_and_returns_on_stop(db):
    Scheduler(db).add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    stop.set()
    await within(Scheduler(db).run(stop))  # no error: the table is not empty
    assert _lock_owner(db) is None  # released


async def test_run_raises_lock_held_when_another_leader_exists(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    with db.lock(LOCK, ttl=60):
        with pytest.raises(honker.LockHeld):
            await within(s.run())
    other = Scheduler(db, lock_name="elsewhere")  # lock_name partitions leadership
    stop = asyncio.Event()
    with db.lock(LOCK, ttl=60):
        task = await _start(other, stop)
        assert _lock_owner(db, "elsewhere")
        stop.set()
        await within(task)


async def test_run_rejects_a_non_positive_lock_ttl(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(60))
    s.lock_ttl = 0
    with pytest.raises(ConfigError):
        await s.run()


# -- run: leading -----------------------------------------------------------------


async def test_run_fires_due_boundaries_and_stops_cleanly(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(60), payload="tick")
    _set_next_fire(db, "n", "unixepoch() - 120")  # three boundaries are due
    stop = asyncio.Event()
    task = await _start(s, stop)
    await async_wait_until(lambda: len(_jobs(db)) == 3)
    stop.set()
    await within(task)
    assert task.result() is None
    assert _lock_owner(db) is None
    assert [j["payload"] for j in _jobs(db)] == ['"tick"'] * 3


async def test_run_ticks_with_the_injected_clock(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(600))
    t0 = _row(s, "n")["next_fire_at"]
    s.clock = lambda: t0 + 1200.5  # two intervals in the future
    stop = asyncio.Event()
    task = await _start(s, stop)
    await async_wait_until(lambda: len(_jobs(db)) == 3)
    stop.set()
    await within(task)
    assert _row(s, "n")["next_fire_at"] == t0 + 1800


async def test_run_wakes_on_a_commit_instead_of_sleeping_until_the_next_fire(db, open_db, db_path):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    task = await _start(s, stop)
    other = open_db(db_path)  # another connection: as if another process moved it
    _set_next_fire(other, "n", "unixepoch() - 1")
    await async_wait_until(lambda: len(_jobs(db)) == 1, timeout=5)
    stop.set()
    await within(task)


async def test_run_returns_when_no_enabled_task_is_left(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    task = await _start(s, asyncio.Event())
    Scheduler(db).pause("n")
    await within(task, 5)
    assert task.result() is None
    assert _lock_owner(db) is None


async def test_run_raises_on_an_invalid_stored_expression_and_releases(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(60))
    with db.transaction() as tx:
        tx.execute(
            "UPDATE _honker_scheduler_tasks SET cron_expr = 'bad', next_fire_at = 1 WHERE name='n'"
        )
    with pytest.raises(SQLFunctionError, match="requires 5 or 6 cron fields"):
        await within(s.run())
    assert _lock_owner(db) is None


async def test_leadership_lost_sets_stop_event_and_leaves_the_thief_alone(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    task = await _start(s, stop)
    owner = _lock_owner(db)
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_locks SET owner = 'thief' WHERE name = ?", [LOCK])
    with pytest.raises(honker.LeadershipLost) as info:
        await within(task, 5)
    assert str(info.value) == (
        f"scheduler lock 'honker-scheduler' lost (owner={owner!r}); another leader took over"
    )
    assert stop.is_set()
    assert _lock_owner(db) == "thief"


async def test_heartbeat_alone_detects_a_lost_lock(db, backend, monkeypatch):
    if backend == "sqlite":
        from honker.backends.sqlite.ops import SQLiteOps as ops_class
    else:
        from honker.backends.postgres.ops import PostgresOps as ops_class

    real_step = ops_class.lead_step

    def step_without_check(ops, lock_name, owner, ttl, now_unix):
        # Whoever holds the lock, tick as its owner: only the heartbeat can notice.
        (holder,) = [r["owner"] for r in db.query("SELECT owner FROM _honker_locks")]
        return real_step(ops, lock_name, holder, ttl, now_unix)

    s = Scheduler(db)
    s.heartbeat_interval = 0.05
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    with db.transaction() as tx:  # the thief holds the lock; we take it over by expiry
        tx.execute("INSERT INTO _honker_locks VALUES (?, 'thief', unixepoch() - 1)", [LOCK])
    monkeypatch.setattr(ops_class, "lead_step", step_without_check)
    stop = asyncio.Event()
    task = asyncio.create_task(s.run(stop))
    await async_wait_until(lambda: _lock_owner(db) not in (None, "thief"))
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_locks SET owner = 'thief' WHERE name = ?", [LOCK])
    with pytest.raises(honker.LeadershipLost):
        await within(task, 5)
    assert stop.is_set()


async def test_heartbeat_renews_the_lock(db):
    s = Scheduler(db)
    s.heartbeat_interval = 0.05
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    task = await _start(s, stop)
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_locks SET expires_at = unixepoch() + 5 WHERE name = ?", [LOCK])

    def renewed() -> bool:
        (row,) = db.query("SELECT expires_at - unixepoch() AS left FROM _honker_locks")
        return row["left"] >= 59

    await async_wait_until(renewed, timeout=5)
    stop.set()
    await within(task)


# -- run: hot standby -------------------------------------------------------------


async def test_standby_waits_for_the_leader_then_takes_over(db):
    leader, standby = Scheduler(db), Scheduler(db)
    leader.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop_leader, stop_standby = asyncio.Event(), asyncio.Event()
    lead_task = await _start(leader, stop_leader)
    first_owner = _lock_owner(db)
    standby_task = asyncio.create_task(standby.run(stop_standby, standby=True))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not standby_task.done()  # no LockHeld: it waits
    assert _lock_owner(db) == first_owner

    stop_leader.set()
    await within(lead_task)
    await async_wait_until(lambda: _lock_owner(db) not in (None, first_owner), timeout=5)
    _set_next_fire(db, "n", "unixepoch() - 1")
    await async_wait_until(lambda: len(_jobs(db)) == 1, timeout=5)
    stop_standby.set()
    await within(standby_task)
    assert _lock_owner(db) is None


async def test_standby_returns_when_stopped_before_leading(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    with db.lock(LOCK, ttl=60) as held:
        task = asyncio.create_task(s.run(stop, standby=True))
        await asyncio.sleep(0)
        stop.set()
        await within(task, 5)
        assert _lock_owner(db) == held.owner


async def test_standby_goes_back_to_waiting_after_losing_the_lock(db):
    s = Scheduler(db)
    s.add(name="n", queue="q", schedule=honker.every_s(3600))
    stop = asyncio.Event()
    task = await _start(s, stop, standby=True)
    first_owner = _lock_owner(db)
    with db.transaction() as tx:  # a thief whose lock expires within a second
        tx.execute(
            "UPDATE _honker_locks SET owner = 'thief', expires_at = unixepoch() + 1 WHERE name = ?",
            [LOCK],
        )
    await async_wait_until(lambda: _lock_owner(db) not in (None, "thief", first_owner), timeout=5)
    assert not task.done() and not stop.is_set()
    stop.set()
    await within(task)
