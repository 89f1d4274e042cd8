"""The honker SQL functions on the writer, part 2: locks, rate limits,
results, streams, scheduler and cron (docs/spec/engine.md §4.3-4.8, §5.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import call, db_now, serde, sql

import honker

# -- locks ------------------------------------------------------------------------------


def _lock_expiry(db: honker.Database, name: str) -> int | None:
    rows = db.query("SELECT expires_at FROM _honker_locks WHERE name = ?", [name])
    return rows[0]["expires_at"] if rows else None


def test_lock_acquire(db: honker.Database) -> None:
    assert call(db, "honker_lock_acquire('l', 'a', 100)") == 1
    expiry = _lock_expiry(db, "l")
    assert call(db, "honker_lock_acquire('l', 'b', 100)") == 0
    assert call(db, "honker_lock_acquire('l', 'a', 100000)") == 1, "same owner: re-entrant"
    assert _lock_expiry(db, "l") == expiry, "re-acquiring does not refresh the TTL"


def test_lock_with_non_positive_ttl_is_born_expired(db: honker.Database) -> None:
    assert call(db, "honker_lock_acquire('l', 'a', 0)") == 1
    assert call(db, "honker_lock_acquire('l', 'b', 10)") == 1, "expired (<=): displaced"
    sql(db, "UPDATE _honker_locks SET expires_at = unixepoch() WHERE name = 'l'")
    assert call(db, "honker_lock_acquire('l', 'c', 10)") == 1


def test_lock_release(db: honker.Database) -> None:
    call(db, "honker_lock_acquire('l', 'a', 100)")
    assert call(db, "honker_lock_release('l', 'b')") == 0
    assert call(db, "honker_lock_release('l', 'a')") == 1
    assert call(db, "honker_lock_release('l', 'a')") == 0


def test_lock_renew(db: honker.Database) -> None:
    call(db, "honker_lock_acquire('l', 'a', 100)")
    assert call(db, "honker_lock_renew('l', 'b', 100)") == 0
    sql(db, "UPDATE _honker_locks SET expires_at = unixepoch() - 10")
    before = db_now(db)
    assert call(db, "honker_lock_renew('l', 'a', 50)") == 1, "an expired row can be renewed"
    assert before + 50 <= _lock_expiry(db, "l") <= db_now(db) + 50
    for ttl in (0, -1):
        with pytest.raises(RuntimeError) as info:
            call(db, "honker_lock_renew('l', 'a', ?)", ttl)
        assert str(info.value) == "ttl_s must be positive"


# -- rate limits ------------------------------------------------------------------------

PER = 10**9  # one window from 2001 to 2033: no boundary during the test


def test_rate_limit_fixed_window(db: honker.Database) -> None:
    assert [call(db, "honker_rate_limit_try('r', 2, ?)", PER) for _ in range(4)] == [1, 1, 0, 0]
    rows = db.query("SELECT * FROM _honker_rate_limits")
    assert rows == [{"name": "r", "window_start": (db_now(db) // PER) * PER, "count": 2}]


@pytest.mark.parametrize(("limit", "per"), [(0, 10), (5, 0), (-1, 10), (5, -1)])
def test_rate_limit_rejects_non_positive(db: honker.Database, limit: int, per: int) -> None:
    with pytest.raises(RuntimeError) as info:
        call(db, "honker_rate_limit_try('r', ?, ?)", limit, per)
    assert str(info.value) == "limit and per must be positive"


def test_rate_limit_sweep(db: honker.Database) -> None:
    now = db_now(db)
    sql(
        db,
        "INSERT INTO _honker_rate_limits VALUES ('a', ?, 1), ('b', ?, 1), ('c', ?, 1)",
        now - 7200, now - 3000, now,
    )  # fmt: skip
    assert call(db, "honker_rate_limit_sweep(3600)") == 1
    assert [r["name"] for r in db.query("SELECT name FROM _honker_rate_limits ORDER BY 1")] == [
        "b",
        "c",
    ]


# -- results -----------------------------------------------------------------------------


def test_results(db: honker.Database) -> None:
    assert call(db, "honker_result_save(1, '{\"a\": 1}', 0)") == 1
    assert call(db, "honker_result_save(2, 'null', -5)") == 1
    assert call(db, "honker_result_save(3, '3', 100)") == 1
    with db.transaction() as tx:
        rows = tx.query(
            "SELECT honker_result_get(1) AS a, honker_result_get(2) AS b,"
            " typeof(honker_result_get(2)) AS tb, typeof(honker_result_get(9)) AS missing"
        )
    assert rows == [{"a": '{"a": 1}', "b": "null", "tb": "text", "missing": "null"}]
    got = {r["job_id"]: r["expires_at"] for r in db.query("SELECT * FROM _honker_results")}
    assert got[1] is None and got[2] is None and got[3] > db_now(db)
    sql(db, "UPDATE _honker_results SET created_at = 1, expires_at = unixepoch() WHERE job_id = 3")
    assert call(db, "honker_result_get(3)") is None
    assert call(db, "honker_result_sweep()") == 1
    assert call(db, "honker_result_sweep()") == 0
    call(db, "honker_result_save(1, '2', 0)")
    sql(db, "UPDATE _honker_results SET created_at = 7 WHERE job_id = 1")
    call(db, "honker_result_save(1, '3', 0)")
    assert db.query("SELECT value, created_at FROM _honker_results WHERE job_id = 1") == [
        {"value": "3", "created_at": 7}
    ]


# -- streams -------------------------------------------------------------------------------


def test_stream_publish_and_read(db: honker.Database) -> None:
    a1 = call(db, "honker_stream_publish('a', NULL, '{\"n\": 1}')")
    b1 = call(db, "honker_stream_publish('b', 'k', '2')")
    a2 = call(db, "honker_stream_publish('a', 'k2', '\"ü\"')")
    assert a1 < b1 < a2, "one global offset counter"
    created = {r["offset"]: r["created_at"] for r in db.query("SELECT * FROM _honker_stream")}
    expected = [
        {"created_at": created[a1], "key": None, "offset": a1, "payload": '{"n": 1}', "topic": "a"},
        {"created_at": created[a2], "key": "k2", "offset": a2, "payload": '"ü"', "topic": "a"},
    ]
    assert call(db, "honker_stream_read_since('a', 0, -1)") == serde(expected)
    assert call(db, "honker_stream_read_since('a', 0, 1)") == serde(expected[:1])
    assert call(db, "honker_stream_read_since('a', ?, 100)", a1) == serde(expected[1:])
    assert call(db, "honker_stream_read_since('a', 0, 0)") == "[]"
    with pytest.raises(RuntimeError, match=r"^Invalid function parameter type Integer at index 1$"):
        call(db, "honker_stream_publish('a', 5, '1')")


def test_stream_offsets(db: honker.Database) -> None:
    assert call(db, "honker_stream_get_offset('c', 't')") == 0
    assert call(db, "honker_stream_save_offset('c', 't', 0)") == 1, "first save inserts"
    assert call(db, "honker_stream_save_offset('c', 't', 5)") == 1
    assert call(db, "honker_stream_save_offset('c', 't', 5)") == 0
    assert call(db, "honker_stream_save_offset('c', 't', 3)") == 0, "never moves back"
    assert call(db, "honker_stream_get_offset('c', 't')") == 5
    assert call(db, "honker_stream_get_offset('c', 'other')") == 0


# -- scheduler -------------------------------------------------------------------------------


def _task(db: honker.Database, name: str) -> dict[str, Any]:
    (row,) = db.query("SELECT * FROM _honker_scheduler_tasks WHERE name = ?", [name])
    return row


def _register(db: honker.Database, name: str, *extra: Any, expr: str = "@every 10s") -> int:
    marks = ", ".join("?" * (6 + len(extra)))
    args = [name, "q", expr, '{"k": 1}', 2, None, *extra]
    return call(db, f"honker_scheduler_register({marks})", *args)


def test_register_overloads_and_clamping(db: honker.Database) -> None:
    before = db_now(db)
    assert _register(db, "six") == 1
    after = db_now(db)
    assert _register(db, "seven", 7) == 1
    assert _register(db, "zero", 0) == 1
    assert _register(db, "negative", -4) == 1
    six = _task(db, "six")
    assert before + 10 <= six["next_fire_at"] <= after + 10, "first fire strictly after now"
    assert (six["queue"], six["cron_expr"], six["payload"], six["priority"]) == (
        "q", "@every 10s", '{"k": 1}', 2,
    )  # fmt: skip
    assert (six["expires_s"], six["enabled"], six["max_attempts"]) == (None, 1, 3)
    assert [_task(db, n)["max_attempts"] for n in ("seven", "zero", "negative")] == [7, 1, 1]


def test_register_rejects_a_bad_schedule(db: honker.Database) -> None:
    with pytest.raises(RuntimeError, match=r"requires 5 or 6 cron fields"):
        _register(db, "bad", expr="not a schedule")
    assert db.query("SELECT count(*) AS n FROM _honker_scheduler_tasks") == [{"n": 0}]


def test_pause_resume_soonest_and_reregister(db: honker.Database) -> None:
    assert call(db, "honker_scheduler_soonest()") == 0
    _register(db, "a")
    _register(db, "b", expr="@every 1h")
    assert call(db, "honker_scheduler_soonest()") == _task(db, "a")["next_fire_at"]
    assert call(db, "honker_scheduler_pause('a')") == 1
    assert call(db, "honker_scheduler_pause('a')") == 0
    assert call(db, "honker_scheduler_soonest()") == _task(db, "b")["next_fire_at"]
    _register(db, "a", 5)
    assert (_task(db, "a")["enabled"], _task(db, "a")["max_attempts"]) == (0, 5), "still paused"
    assert call(db, "honker_scheduler_resume('a')") == 1
    assert call(db, "honker_scheduler_resume('a')") == 0
    assert call(db, "honker_scheduler_resume('missing')") == 0
    assert call(db, "honker_scheduler_unregister('a')") == 1
    assert call(db, "honker_scheduler_unregister('a')") == 0
    call(db, "honker_scheduler_pause('b')")
    assert call(db, "honker_scheduler_soonest()") == 0, "only paused tasks left"


def test_list(db: honker.Database) -> None:
    assert call(db, "honker_scheduler_list()") == "[]"
    _register(db, "b", 4)
    call(db, "honker_scheduler_register('a', 'q2', '@every 1m', 'null', 0, 30)")
    call(db, "honker_scheduler_pause('b')")
    expected = [
        {
            "cron_expr": "@every 1m", "enabled": True, "expires_s": 30, "max_attempts": 3,
            "name": "a", "next_fire_at": _task(db, "a")["next_fire_at"], "payload": "null",
            "priority": 0, "queue": "q2",
        },
        {
            "cron_expr": "@every 10s", "enabled": False, "expires_s": None, "max_attempts": 4,
            "name": "b", "next_fire_at": _task(db, "b")["next_fire_at"], "payload": '{"k": 1}',
            "priority": 2, "queue": "q",
        },
    ]  # fmt: skip
    assert call(db, "honker_scheduler_list()") == serde(expected)


def test_update(db: honker.Database) -> None:
    upd6 = "honker_scheduler_update(?, ?, ?, ?, ?, ?)"
    upd8 = "honker_scheduler_update(?, ?, ?, ?, ?, ?, ?, ?)"
    assert call(db, upd6, "missing", "not a cron", None, None, None, 0) == 0, "existence first"
    _register(db, "a")
    sql(db, "UPDATE _honker_scheduler_tasks SET expires_s = 9")
    assert call(db, upd6, "a", None, None, None, None, 0) == 0, "nothing touched"
    assert call(db, upd6, "a", None, None, 7, None, 0) == 1
    assert (_task(db, "a")["priority"], _task(db, "a")["expires_s"]) == (7, 9)
    assert call(db, upd6, "a", None, '"p"', None, None, 1) == 1
    assert (_task(db, "a")["payload"], _task(db, "a")["expires_s"]) == ('"p"', None)
    assert call(db, upd8, "a", None, None, None, None, 0, 0, 1) == 1
    assert _task(db, "a")["max_attempts"] == 1, "clamped to >= 1"
    assert call(db, upd8, "a", None, None, None, None, 0, None, 1) == 1
    assert _task(db, "a")["max_attempts"] == 3, "NULL resets to 3"
    assert call(db, upd8, "a", None, None, None, None, 0, 8, 0) == 0, "not touched"
    before = db_now(db)
    assert call(db, upd6, "a", "@every 1h", None, None, None, 0) == 1
    after = db_now(db)
    task = _task(db, "a")
    assert task["cron_expr"] == "@every 1h"
    assert before + 3600 <= task["next_fire_at"] <= after + 3600
    with pytest.raises(RuntimeError):
        call(db, upd6, "a", "bogus", '"changed"', 1, None, 0)
    assert _task(db, "a") == task, "a parse error changes nothing"


def test_tick_fires_due_boundaries_capped_at_64(db: honker.Database) -> None:
    call(db, "honker_scheduler_register('t', 'ticks', '@every 10s', '{\"k\": 1}', 3, 60, 5)")
    first = _task(db, "t")["next_fire_at"]
    assert call(db, "honker_scheduler_tick(?)", first - 1) == "[]"
    now = first + 10_000
    before = db_now(db)
    fires = json.loads(call(db, "honker_scheduler_tick(?)", now))
    after = db_now(db)
    assert len(fires) == 64
    assert [f["fire_at"] for f in fires] == [first + 10 * i for i in range(64)]
    assert {(f["name"], f["queue"]) for f in fires} == {("t", "ticks")}
    assert list(fires[0]) == ["fire_at", "job_id", "name", "queue"]
    assert _task(db, "t")["next_fire_at"] == now + 10, "backlog skipped: next after now"
    jobs = db.query("SELECT * FROM _honker_live ORDER BY id")
    assert [j["id"] for j in jobs] == [f["job_id"] for f in fires]
    for j in jobs:
        assert (j["queue"], j["payload"], j["priority"], j["max_attempts"]) == (
            "ticks", '{"k": 1}', 3, 5,
        )  # fmt: skip
        assert before <= j["run_at"] <= after, "run_at is the tick's unixepoch(), not fire_at"
        assert before + 60 <= j["expires_at"] <= after + 60
    assert call(db, "honker_scheduler_tick(?)", now) == "[]", "never fires a boundary twice"


def test_tick_catches_up_one_boundary_at_a_time(db: honker.Database) -> None:
    _register(db, "t")
    first = _task(db, "t")["next_fire_at"]
    fires = json.loads(call(db, "honker_scheduler_tick(?)", first + 25))
    assert [f["fire_at"] for f in fires] == [first, first + 10, first + 20]
    assert _task(db, "t")["next_fire_at"] == first + 30


def test_tick_skips_paused_tasks_and_fails_on_a_corrupt_schedule(db: honker.Database) -> None:
    _register(db, "paused")
    call(db, "honker_scheduler_pause('paused')")
    assert call(db, "honker_scheduler_tick(?)", db_now(db) + 100) == "[]"
    _register(db, "corrupt")
    sql(db, "UPDATE _honker_scheduler_tasks SET cron_expr = 'bogus' WHERE name = 'corrupt'")
    with pytest.raises(RuntimeError):
        call(db, "honker_scheduler_tick(?)", db_now(db) + 100)


# -- cron ----------------------------------------------------------------------------------


def test_cron_next_after(db: honker.Database) -> None:
    pytest.importorskip("honker.cron.expr")
    assert call(db, "honker_cron_next_after('@every 10s', 100)") == 110
    assert call(db, "honker_cron_next_after('@every 2m', 0)") == 120
    assert call(db, "honker_cron_next_after('* * * * * *', 100)") == 101, "strictly after"
    with pytest.raises(RuntimeError, match=r"requires 5 or 6 cron fields"):
        call(db, "honker_cron_next_after('nope', 0)")
    with pytest.raises(RuntimeError, match=r"^Invalid function parameter type Real at index 1$"):
        call(db, "honker_cron_next_after('@every 1s', 1.5)")
