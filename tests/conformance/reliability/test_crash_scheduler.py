"""A SIGKILLed scheduler leader is replaced by a standby within the lock TTL,
and no ``@every 1s`` boundary fires twice or goes missing.

Three processes run ``Scheduler.run(stop, standby=True)`` on one lock (TTL
2 s, heartbeat 0.3 s). The leader is SIGKILLed twice; each time a standby
must lead within the TTL plus a second. Every fire is checked three ways:
the fire lines the processes print (from the library's ``fired`` log
records) never repeat a ``fire_at``; they cover every boundary between the
first and the last one with no gap; and the jobs in the queue number exactly
``final next_fire_at - initial next_fire_at``.
"""

from __future__ import annotations

import time

import pytest
from helpers import SCHEDULER_CHILD, spawn_child, wait_until
from rel_support import Lines, sigkill

import honker

LOCK_TTL = 2


def _fires(outs: list[Lines]) -> list[int]:
    return [int(line.split()[2]) for o in outs for line in o.starting("fired")]


@pytest.mark.timeout(90)
def test_standby_takes_over_a_killed_leader_without_double_fires(
    db: honker.Database, db_path: str
) -> None:
    sched = honker.Scheduler(db)
    sched.add(name="beat", queue="beat", schedule=honker.every_s(1))
    (initial,) = [t["next_fire_at"] for t in sched.list()]
    outs = [
        Lines(spawn_child(SCHEDULER_CHILD, db_path, "honker-scheduler", LOCK_TTL, 0.3, 1))
        for _ in range(3)
    ]
    alive = list(outs)
    takeovers = []

    def leader() -> Lines | None:
        return next((o for o in alive if o.starting("leading")), None)

    for _round in range(2):
        old = wait_until(leader, timeout=10, message="a leader")
        seen = len(old.starting("fired"))
        wait_until(lambda old=old, seen=seen: len(old.starting("fired")) >= seen + 2, timeout=10)
        sigkill(old.child)  # its lock row stays until the TTL runs out
        killed_at = time.monotonic()
        alive.remove(old)
        new = wait_until(leader, timeout=LOCK_TTL + 5, message="a standby takes over")
        takeovers.append(time.monotonic() - killed_at)
        wait_until(lambda new=new: len(new.starting("fired")) >= 2, timeout=10)
    for o in alive:
        o.child.send("stop")
    for o in alive:
        wait_until(lambda o=o: "stopped" in o.poll(), timeout=10, message="a clean stop")
        o.child.wait(timeout=10)

    fires = sorted(_fires(outs))
    print(f"\ntakeovers after {[round(t, 2) for t in takeovers]} s; {len(fires)} fires")
    assert len(fires) == len(set(fires)), "a boundary fired twice"
    assert fires == list(range(fires[0], fires[-1] + 1)), "a boundary was skipped"
    (final,) = [t["next_fire_at"] for t in sched.list()]
    jobs = db.query("SELECT COUNT(*) AS n FROM _honker_live WHERE queue = 'beat'")[0]["n"]
    assert jobs == final - initial == len(fires)
    assert all(t <= LOCK_TTL + 1.5 for t in takeovers), takeovers
