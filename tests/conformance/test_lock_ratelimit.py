"""Advisory locks and fixed-window rate limits (docs/spec/python-api.md §14, docs/spec/engine.md
§4.3-4.4/§5.4,
sharp edges 24-25)."""

from __future__ import annotations

import threading

import pytest

import honker
from honker._errors import HonkerError

# A window this long cannot roll over while a test runs (windows align to
# multiples of `per` since the epoch: 1e9 s windows start in 2001 and 2033).
NO_ROLLOVER = 10**9


def _lock_row(db, name: str) -> dict | None:
    rows = db.query(
        "SELECT owner, expires_at - unixepoch() AS left FROM _honker_locks WHERE name = ?", [name]
    )
    return rows[0] if rows else None


def _expire(db, name: str) -> None:
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_locks SET expires_at = unixepoch() WHERE name = ?", [name])


# -- locks ----------------------------------------------------------------------


def test_lock_acquire_release_and_shape(db):
    lock = db.lock("job", ttl=30.9)
    assert (lock.name, lock.ttl, lock.acquired) == ("job", 30, False)
    assert len(lock.owner) == 32 and lock.owner != db.lock("job").owner  # fresh uuid4 hex
    with lock as held:
        assert held is lock and lock.acquired
        row = _lock_row(db, "job")
        assert row["owner"] == lock.owner and 29 <= row["left"] <= 30
    assert not lock.acquired
    assert _lock_row(db, "job") is None
    with pytest.raises(AttributeError):
        lock.extra = 1  # __slots__


def test_lock_held_is_immediate_and_not_reentrant(db, open_db, db_path):
    other = open_db(db_path)
    with db.lock("job"):
        with pytest.raises(honker.LockHeld, match=r"^lock 'job' is already held$") as info:
            with other.lock("job"):
                pass
        assert isinstance(info.value, HonkerError)
        with pytest.raises(honker.LockHeld):
            with db.lock("job"):  # same process, fresh owner: not re-entrant
                pass
        with db.lock("other-name"):
            pass


def test_same_owner_reenters_without_refreshing_the_ttl(db):
    with db.lock("job", ttl=60, owner="me"):
        with db.transaction() as tx:
            tx.execute("UPDATE _honker_locks SET expires_at = unixepoch() + 5")
        again = db.lock("job", ttl=60, owner="me")
        again.__enter__()
        assert again.acquired
        assert _lock_row(db, "job")["left"] <= 5


def test_expired_lock_is_displaced(db):
    stale = db.lock("job", ttl=60)
    stale.__enter__()
    _expire(db, "job")  # expires_at <= now: free
    with db.lock("job") as fresh:
        assert _lock_row(db, "job")["owner"] == fresh.owner
        stale.__exit__(None, None, None)  # owner-scoped: does not release the new holder
        assert _lock_row(db, "job")["owner"] == fresh.owner
    assert not stale.acquired


def test_renew(db):
    lock = db.lock("job", ttl=60)
    assert lock.renew() is False  # never acquired
    with lock:
        with db.transaction() as tx:
            tx.execute("UPDATE _honker_locks SET expires_at = unixepoch() + 1")
        assert lock.renew() is True
        assert _lock_row(db, "job")["left"] >= 59
        assert lock.renew(ttl=300) is True
        assert _lock_row(db, "job")["left"] >= 299
        with pytest.raises(RuntimeError, match=r"^ttl_s must be positive$"):
            lock.renew(ttl=-1)
        with db.transaction() as tx:
            tx.execute("UPDATE _honker_locks SET owner = 'thief'")
        assert lock.renew() is False  # stolen
    assert _lock_row(db, "job")["owner"] == "thief"  # exit left the thief alone


def test_exceptions_propagate_through_the_lock(db):
    with pytest.raises(KeyError):
        with db.lock("job"):
            raise KeyError("x")
    assert _lock_row(db, "job") is None


def test_only_one_of_many_threads_gets_the_lock(open_db, db_path):
    dbs = [open_db(db_path) for _ in range(4)]
    start, tried = threading.Barrier(len(dbs)), threading.Barrier(len(dbs))
    winners: list[int] = []

    def contend(i: int) -> None:
        lock = dbs[i].lock("job", ttl=60)
        start.wait()
        try:
            lock.__enter__()
            winners.append(i)
        except honker.LockHeld:
            pass
        tried.wait()  # the winner holds on until everyone has tried
        lock.__exit__(None, None, None)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(winners) == 1


# -- rate limits ----------------------------------------------------------------


def test_rate_limit_counts_only_allowed_calls(db):
    results = [db.try_rate_limit("api", 3, NO_ROLLOVER) for _ in range(5)]
    assert results == [True, True, True, False, False]
    (row,) = db.query("SELECT window_start, count FROM _honker_rate_limits WHERE name = 'api'")
    assert row["count"] == 3  # rejected calls are not counted
    assert row["window_start"] % NO_ROLLOVER == 0
    assert db.try_rate_limit("other", 1, NO_ROLLOVER) is True  # per name


def test_rate_limit_converts_and_validates(db):
    assert db.try_rate_limit("api", "2", 60.9) is True
    for limit, per in ((0, 60), (1, 0), (-1, 60), (1, -60)):
        with pytest.raises(ValueError, match=r"^limit and per must be positive$"):
            db.try_rate_limit("api", limit, per)


def test_rate_limit_window_boundary_resets_the_count(db):
    assert db.try_rate_limit("api", 1, NO_ROLLOVER) is True
    assert db.try_rate_limit("api", 1, NO_ROLLOVER) is False
    with db.transaction() as tx:  # as if the window had rolled over
        tx.execute("UPDATE _honker_rate_limits SET window_start = window_start - ?", [NO_ROLLOVER])
    assert db.try_rate_limit("api", 1, NO_ROLLOVER) is True
    assert db.query("SELECT COUNT(*) AS n FROM _honker_rate_limits")[0]["n"] == 2


def test_sweep_rate_limits(db):
    db.try_rate_limit("old", 5, 60)
    db.try_rate_limit("new", 5, 60)
    with db.transaction() as tx:
        tx.execute("UPDATE _honker_rate_limits SET window_start = 1000 WHERE name = 'old'")
    assert db.sweep_rate_limits() == 1
    assert db.sweep_rate_limits(older_than_s=3600) == 0
    assert [r["name"] for r in db.query("SELECT name FROM _honker_rate_limits")] == ["new"]


def test_rate_limit_is_exact_across_threads(open_db, db_path):
    dbs = [open_db(db_path) for _ in range(4)]
    barrier = threading.Barrier(len(dbs))
    allowed = [0] * len(dbs)

    def hammer(i: int) -> None:
        barrier.wait()
        for _ in range(25):
            allowed[i] += dbs[i].try_rate_limit("api", 37, NO_ROLLOVER)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sum(allowed) == 37
