"""Which commits NOTIFY: claims, acks and heartbeats in a write of their own
run as one statement in autocommit and do not (no waiter has anything new to
find after them, and with many workers every process would wake for every
other's claim and ack); everything else that writes does, and a user's
transaction always does (``QUIET`` in honker/backends/postgres/backend.py).
The throughput history's flush (at most once a second, history.py) is a
write of its own and notifies: the silence is checked with ``history=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import honker
from honker.backends.postgres.changes import Changes

SILENCE_S = 0.3


@pytest.fixture
def changes(db: honker.Database) -> Iterator[Changes]:
    sub = db.update_events()
    yield sub
    sub.close()


def _drain(changes: Changes) -> None:
    while changes.wait_sync(SILENCE_S):
        pass


def test_claims_acks_and_heartbeats_stay_silent(
    open_db: Callable[..., honker.Database], pg_url: str
) -> None:
    db = open_db(pg_url, history=False)
    changes = db.update_events()
    q = db.queue("q", visibility_timeout_s=60)
    ids = [q.enqueue(i) for i in range(3)]
    _drain(changes)
    one = q.claim_one("w")
    assert one is not None and one.heartbeat() and one.ack()
    batch = q.claim_batch("w", 2)
    assert q.ack_batch([j.id for j in batch], "w") == 2
    assert {one.id, *(j.id for j in batch)} == set(ids)
    assert changes.wait_sync(SILENCE_S) is False, "no tick for claims, acks, heartbeats"
    changes.close()


@pytest.mark.parametrize("operation", ["enqueue", "retry", "fail", "result", "tx ack"])
def test_writes_that_can_wake_someone_notify(
    db: honker.Database, changes: Changes, operation: str
) -> None:
    q = db.queue("q", visibility_timeout_s=60)
    q.enqueue(1)
    job = q.claim_one("w")
    assert job is not None
    _drain(changes)
    if operation == "enqueue":
        q.enqueue(2)
    elif operation == "retry":
        assert job.retry(delay_s=0)  # claimable again at once: a waiting worker must wake
    elif operation == "fail":
        assert job.fail("boom")
    elif operation == "result":
        q.save_result(job.id, {"ok": True})  # wait_result waiters
    else:
        with db.transaction() as tx:  # a user's transaction: its own SQL may matter to anyone
            assert job.ack(tx=tx)
    assert changes.wait_sync(5) is True, f"{operation} ticks"


def test_an_enqueue_of_its_own_commits_with_its_notify_in_one_statement(
    pg_url: str, admin: Any
) -> None:
    """``q.enqueue()`` without ``tx=`` runs ``enqueue_solo``: one autocommit
    statement whose NOTIFY a listening session receives with the row visible;
    inside a transaction the plain statement runs and the commit notifies."""
    db = honker.open(pg_url, history=False)
    try:
        q = db.queue("q")
        listen = psycopg.connect(admin.info.dsn, autocommit=True)
        try:
            schema = pg_url.split("schema=")[1].split("&")[0]
            listen.execute(f"LISTEN honker_changes_{schema}")
            job_id = q.enqueue({"n": 1})
            notes = list(listen.notifies(timeout=5, stop_after=1))
            assert len(notes) == 1
            assert db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"] == 1
            with db.transaction() as tx:
                second = q.enqueue({"n": 2}, tx=tx)
            assert len(list(listen.notifies(timeout=5, stop_after=1))) == 1
            assert second > job_id
        finally:
            listen.close()
    finally:
        db.close()
