"""Schedulers in different processes fire each boundary exactly once
(docs/spec/python-api.md §15.3, docs/spec/engine.md §5.5).

``@every 1s`` schedules advance ``next_fire_at`` by exactly one second per
fire, so "each boundary fired exactly once" is the equation
``jobs == final next_fire_at - initial next_fire_at`` per task; the children
also print every fire they made, which must never repeat across processes.
"""

from __future__ import annotations

import time

from helpers import SCHEDULER_CHILD, Lines, spawn_child, wait_until

import honker


class Output(Lines):
    """A scheduler child's output, with what these tests ask of it."""

    def fires(self) -> list[tuple[str, int]]:
        return [(ln.split()[1], int(ln.split()[2])) for ln in self.poll() if ln.startswith("fired")]

    def leading(self) -> bool:
        return "leading" in self.poll()

    def stop(self) -> None:
        self.child.send("stop")
        wait_until(lambda: "stopped" in self.poll(), timeout=10)
        self.child.wait(timeout=10)


def _next_fire(db) -> dict[str, int]:
    return {r["name"]: r["next_fire_at"] for r in honker.Scheduler(db).list()}


def _jobs(db) -> dict[str, int]:
    rows = db.query("SELECT queue, COUNT(*) AS n FROM _honker_live GROUP BY queue")
    return {r["queue"]: r["n"] for r in rows}


def _assert_exactly_once(db, initial: dict[str, int], outputs: list[Output]) -> None:
    final = _next_fire(db)
    jobs = _jobs(db)
    for name, start in initial.items():
        assert jobs.get(name, 0) == final[name] - start, (name, jobs, final, initial)
    fires = [f for out in outputs for f in out.fires()]
    assert len(fires) == len(set(fires)), "a boundary fired twice"


def test_concurrent_leaders_never_double_fire(db, db_path):
    """Different lock names: both processes lead and tick the same table at once."""
    sched = honker.Scheduler(db)
    for i in range(4):
        sched.add(name=f"t{i}", queue=f"t{i}", schedule=honker.every_s(1))
    with db.transaction() as tx:  # a 20-boundary backlog for both to race over
        tx.execute("UPDATE _honker_scheduler_tasks SET next_fire_at = unixepoch() - 20")
    initial = _next_fire(db)
    outs = [
        Output(spawn_child(SCHEDULER_CHILD, db_path, f"leader-{i}", 60, 0.2, 0, timeout=20))
        for i in range(2)
    ]
    wait_until(lambda: all(o.leading() for o in outs), timeout=10)
    deadline = time.time() + 2.5
    wait_until(lambda: time.time() >= deadline and min(_jobs(db).values(), default=0) >= 22)
    for out in outs:
        out.stop()
    _assert_exactly_once(db, initial, outs)


def test_standby_takes_over_from_a_killed_leader_without_gaps(db, db_path):
    """Same lock, TTL 2 s: SIGKILL the leader; the standby catches up every boundary.

    (TTL 1 s would not do: expiry has whole-second granularity, so a lock renewed
    every 0.2 s to ``now + 1`` is briefly expired at each second's start.)
    """
    honker.Scheduler(db).add(name="beat", queue="beat", schedule=honker.every_s(1))
    initial = _next_fire(db)
    outs = [
        Output(spawn_child(SCHEDULER_CHILD, db_path, "honker-scheduler", 2, 0.2, 1))
        for _ in range(2)
    ]
    leader = wait_until(lambda: next((o for o in outs if o.leading()), None), timeout=10)
    (standby,) = [o for o in outs if o is not leader]
    wait_until(lambda: len(leader.fires()) >= 2, timeout=10)
    assert not standby.leading()
    leader.child.proc.kill()  # SIGKILL: its lock row stays until the TTL runs out
    leader.child.kill()
    killed_at = _next_fire(db)["beat"]
    wait_until(standby.leading, timeout=10)
    wait_until(lambda: any(f[1] >= killed_at + 1 for f in standby.fires()), timeout=10)
    standby.stop()
    _assert_exactly_once(db, initial, outs)
    assert _lock_owner_gone(db)


def _lock_owner_gone(db) -> bool:
    return db.query("SELECT COUNT(*) AS n FROM _honker_locks")[0]["n"] == 0
