"""Schedules registered by one engine and ticked (with an explicit now) by the other."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from helpers import within
from interop_support import NodeSide, PySide, has_module, now, raw_exec, raw_one, raw_rows

import honker

Pair = tuple[Any, Any]


def _norm(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "payload": json.loads(row["payload"])} for row in listing]


def test_registered_by_one_ticked_by_the_other(pair: Pair) -> None:
    first, second = pair
    t0 = now(first.path)
    first.schedule(
        "every-min", "sq", "@every 60s", {"p": 1}, priority=2, expires=30, max_attempts=5
    )
    first.schedule("five", "sq", "*/5 * * * *", ["ü"])
    listing = second.schedules()
    assert _norm(listing) == _norm(first.schedules())
    assert [r["name"] for r in listing] == ["every-min", "five"]
    every = listing[0]
    assert t0 + 60 <= every["next_fire_at"] <= now(first.path) + 60
    assert (every["enabled"], every["max_attempts"], every["expires_s"]) == (True, 5, 30)
    assert listing[1]["max_attempts"] == 3 and listing[1]["expires_s"] is None
    assert second.soonest() == first.soonest() == min(r["next_fire_at"] for r in listing)

    base = every["next_fire_at"]
    tick_at = base + 240
    fires = second.tick(tick_at)
    mine = [f for f in fires if f["name"] == "every-min"]
    assert [f["fire_at"] for f in mine] == [base + 60 * i for i in range(5)]
    five = [f["fire_at"] for f in fires if f["name"] == "five"]
    assert five == [b for b in range(t0 - t0 % 300 + 300, tick_at + 1, 300)]
    assert second.tick(tick_at) == []  # nothing fires twice
    assert first.tick(tick_at) == []

    # The jobs the tick enqueued are ordinary jobs for the first engine.
    jobs = first.claim("sq", "w", 100)
    assert sorted(j["id"] for j in jobs) == sorted(f["job_id"] for f in fires)
    by_id = {r["id"]: r for r in raw_rows(first.path, "SELECT * FROM _honker_live")}
    for f in mine:
        row = by_id[f["job_id"]]
        assert (row["priority"], row["max_attempts"], row["queue"]) == (2, 5, "sq")
        assert row["expires_at"] == row["created_at"] + 30
        assert json.loads(row["payload"]) == {"p": 1}
    after = {r["name"]: r["next_fire_at"] for r in second.schedules()}
    assert after["every-min"] == base + 300
    assert tick_at < after["five"] <= tick_at + 300 and after["five"] % 300 == 0
    assert first.soonest() == second.soonest() == min(after.values())


def test_pause_resume_update_and_remove_across(pair: Pair) -> None:
    first, second = pair
    first.schedule("job", "q", "@every 10s", "v1")
    base = second.schedules()[0]["next_fire_at"]
    assert second.pause("job") == 1
    assert first.pause("job") == 0
    assert first.soonest() == 0
    assert first.tick(base + 1000) == []
    # Re-registering keeps it paused (enabled is not in the upsert).
    first.schedule("job", "q", "@every 10s", "v2")
    assert second.schedules()[0]["enabled"] is False
    base = second.schedules()[0]["next_fire_at"]
    assert first.resume("job") == 1
    assert second.resume("job") == 0
    fires = second.tick(base + 30)
    assert [f["fire_at"] for f in fires] == [base, base + 10, base + 20, base + 30]
    payloads = raw_rows(first.path, "SELECT payload FROM _honker_live ORDER BY id")
    assert {json.loads(r["payload"]) for r in payloads} == {"v2"}
    assert second.unschedule("job") == 1
    assert first.unschedule("job") == 0
    assert first.schedules() == second.schedules() == []


def test_catch_up_is_capped_at_64_fires(pair: Pair) -> None:
    first, second = pair
    first.schedule("fast", "q", "@every 10s", None)
    far = now(first.path) + 100_000
    fires = second.tick(far)
    assert len(fires) == 64
    assert first.schedules()[0]["next_fire_at"] == far + 10


def test_update_by_python_seen_by_honker(node: Any, open_db: Any, shared_db: str) -> None:
    if not has_module("_scheduler"):
        pytest.skip("honker/_scheduler.py is not in this checkout yet")
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    n.schedule("s", "q", "@every 60s", {"old": 1}, priority=1, expires=5, max_attempts=2)
    sched = honker.Scheduler(db)
    assert sched.update("s", payload={"new": "ü"}, expires=None, max_attempts=None) is True
    (row,) = n.schedules()
    assert (json.loads(row["payload"]), row["expires_s"], row["max_attempts"], row["priority"]) == (
        {"new": "ü"},
        None,
        3,
        1,
    )
    assert sched.update("missing", priority=3) is False
    n_update = node.call(
        shared_db, "honker_scheduler_update", "s", "*/10 * * * *", None, 9, None, 0
    )
    assert n_update == 1
    (item,) = sched.list()
    assert (item["cron_expr"], item["priority"]) == ("*/10 * * * *", 9)


async def test_python_leader_fires_jobs_a_honker_worker_claims(
    node: Any, open_db: Any, shared_db: str
) -> None:
    if not has_module("_scheduler"):
        pytest.skip("honker/_scheduler.py is not in this checkout yet")
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    py = PySide(db)
    py.schedule("tick", "sched-q", "@every 3600s", {"from": "python leader"})
    raw_exec(shared_db, "UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 1")
    sub = node.request("subscribe", db=shared_db)
    stop = asyncio.Event()
    leader = asyncio.ensure_future(honker.Scheduler(db).run(stop))
    try:
        jobs: list[dict[str, Any]] = []
        for _ in range(100):
            jobs = n.claim("sched-q", "node-worker")
            if jobs:
                break
            await asyncio.to_thread(node.request, "wait", sub=sub, timeoutMs=100)
        assert [j["payload"] for j in jobs] == [{"from": "python leader"}]
        # While Python leads, honker's engine cannot take the scheduler lock.
        assert n.lock_acquire("honker-scheduler", "node-standby", 60) == 0
    finally:
        stop.set()
        await within(leader, 5)
        node.request("unsubscribe", sub=sub)
    assert raw_one(shared_db, "SELECT count(*) FROM _honker_locks") == 0  # released on exit


async def test_python_scheduler_yields_to_a_honker_leader(
    node: Any, open_db: Any, shared_db: str
) -> None:
    if not has_module("_scheduler"):
        pytest.skip("honker/_scheduler.py is not in this checkout yet")
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    n.schedule("s", "q", "@every 60s", None)
    assert n.lock_acquire("honker-scheduler", "node-leader", 60) == 1
    with pytest.raises(honker.LockHeld):
        await within(honker.Scheduler(db).run(), 5)
    assert n.lock_release("honker-scheduler", "node-leader") == 1


def test_honker_scheduler_tick_through_our_sql_function(
    node: Any, open_db: Any, shared_db: str
) -> None:
    """The literal ``SELECT honker_scheduler_tick(?)`` of honker's docs, on our writer."""
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    n.schedule("nightly", "reports", "0 3 * * *", {"kind": "nightly"}, max_attempts=2)
    fire_at = n.schedules()[0]["next_fire_at"]
    with db.transaction() as tx:
        assert tx.query("SELECT honker_scheduler_tick(?) AS f", [fire_at - 1])[0]["f"] == "[]"
        text = tx.query("SELECT honker_scheduler_tick(?) AS f", [fire_at + 5])[0]["f"]
        soonest = tx.query("SELECT honker_scheduler_soonest() AS s")[0]["s"]
    (fire,) = json.loads(text)
    assert list(fire) == ["fire_at", "job_id", "name", "queue"]
    assert (fire["fire_at"], fire["name"], fire["queue"]) == (fire_at, "nightly", "reports")
    assert soonest == n.soonest() == n.schedules()[0]["next_fire_at"] > fire_at
    (job,) = n.claim("reports", "node-worker")
    assert (job["id"], job["payload"]) == (fire["job_id"], {"kind": "nightly"})
    assert raw_one(shared_db, "SELECT max_attempts FROM _honker_live") == 2
