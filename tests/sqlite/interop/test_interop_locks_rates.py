"""Advisory locks contended, and rate limits shared, across engines."""

from __future__ import annotations

from typing import Any

import pytest
from interop_support import NodeSide, raw_exec, raw_one, raw_rows

import honker

Pair = tuple[Any, Any]


def test_lock_contended_both_ways(pair: Pair) -> None:
    first, second = pair
    assert first.lock_acquire("report", "owner-a", 60) == 1
    assert second.lock_acquire("report", "owner-b", 60) == 0
    assert first.lock_acquire("report", "owner-a", 60) == 1  # re-entry by the holder
    assert second.lock_renew("report", "owner-b", 60) == 0
    assert second.lock_release("report", "owner-b") == 0  # not its lock: untouched
    assert raw_one(first.path, "SELECT owner FROM _honker_locks") == "owner-a"
    assert first.lock_release("report", "owner-a") == 1
    assert second.lock_acquire("report", "owner-b", 60) == 1
    assert first.lock_acquire("report", "owner-a", 60) == 0
    # An expired lock (expires_at <= now) is taken over by the other engine.
    raw_exec(first.path, "UPDATE _honker_locks SET expires_at = unixepoch()")
    assert first.lock_acquire("report", "owner-a", 30) == 1
    assert second.lock_renew("report", "owner-b", 60) == 0
    assert second.lock_release("report", "owner-b") == 0
    (row,) = raw_rows(
        first.path, "SELECT owner, expires_at - unixepoch() AS ttl FROM _honker_locks"
    )
    assert row["owner"] == "owner-a" and 29 <= row["ttl"] <= 30
    assert first.lock_renew("report", "owner-a", 120) == 1


def test_python_lock_api_against_a_honker_holder(node: Any, open_db: Any, shared_db: str) -> None:
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    assert n.lock_acquire("nightly", "node-1", 60) == 1
    with pytest.raises(honker.LockHeld, match="lock 'nightly' is already held"):
        with db.lock("nightly"):
            pass
    assert n.lock_release("nightly", "node-1") == 1
    with db.lock("nightly", ttl=60) as lock:
        assert n.lock_acquire("nightly", "node-1", 60) == 0
        assert lock.renew(90) is True
        # honker's engine steals it once it has expired ...
        raw_exec(shared_db, "UPDATE _honker_locks SET expires_at = unixepoch() - 1")
        assert n.lock_acquire("nightly", "node-1", 60) == 1
        assert lock.renew() is False  # ... and our holder learns it lost the lock
    # Leaving the block released nothing of honker's.
    assert raw_one(shared_db, "SELECT owner FROM _honker_locks") == "node-1"


def test_rate_limit_shared(pair: Pair) -> None:
    first, second = pair
    per = 10**9  # one window for the whole test, whatever the clock does
    assert first.rate_limit("api", 3, per) == 1
    assert second.rate_limit("api", 3, per) == 1
    assert first.rate_limit("api", 3, per) == 1
    assert second.rate_limit("api", 3, per) == 0
    assert first.rate_limit("api", 3, per) == 0
    assert second.rate_limit("api", 4, per) == 1  # a bigger limit, same window
    assert raw_rows(first.path, "SELECT name, window_start, count FROM _honker_rate_limits") == [
        {"name": "api", "window_start": now_window(first.path, per), "count": 4}
    ]
    assert first.sweep_rate_limits(3600 * 24 * 365 * 100) == 0
    assert second.sweep_rate_limits(0) == 1
    assert first.rate_limit("api", 1, per) == 1


def now_window(path: str, per: int) -> int:
    return int(raw_one(path, "SELECT (unixepoch() / ?) * ?", (per, per)))
