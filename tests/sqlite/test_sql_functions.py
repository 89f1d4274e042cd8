"""The honker SQL functions on the writer, part 1: conventions, notify and the
queue functions (docs/spec/engine.md §3, §4.1-4.2; docs/spec/python-api.md §2). Called exactly as
user code does, through ``tx.query``. Part 2 (locks, rate limits, results,
streams, scheduler, cron) is test_sql_functions_other.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import call, db_now, serde, sql

import honker
from honker._errors import HonkerError


def live(db: honker.Database, job_id: int) -> dict[str, Any] | None:
    rows = db.query("SELECT * FROM _honker_live WHERE id = ?", [job_id])
    return rows[0] if rows else None


def enqueue(db: honker.Database, queue: str = "q", payload: str = "{}", **kw: Any) -> int:
    args = [kw.get(k) for k in ("run_at", "delay")]
    args += [kw.get("priority", 0), kw.get("max_attempts", 3), kw.get("expires")]
    return call(db, "honker_enqueue(?, ?, ?, ?, ?, ?, ?)", queue, payload, *args)


# -- conventions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["q", "{}", None, None, None, 3, None], "Invalid function parameter type Null at index 4"),
        (["q", 7, None, None, 0, 3, None], "Invalid function parameter type Integer at index 1"),
        (["q", "{}", None, None, 1.5, 3, None], "Invalid function parameter type Real at index 4"),
        (["q", "{}", None, None, "1", 3, None], "Invalid function parameter type Text at index 4"),
        (["q", b"{}", None, None, 0, 3, None], "Invalid function parameter type Blob at index 1"),
        ([None, "{}", None, None, 0, 3, None], "Invalid function parameter type Null at index 0"),
        (["q", "{}", "5", None, 0, 3, None], "Invalid function parameter type Text at index 2"),
    ],
)
def test_strict_argument_types(db: honker.Database, args: list[Any], message: str) -> None:
    with pytest.raises(RuntimeError) as info:
        call(db, "honker_enqueue(?, ?, ?, ?, ?, ?, ?)", *args)
    assert str(info.value) == message
    assert isinstance(info.value, HonkerError)
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]


@pytest.mark.parametrize(
    ("expr", "name"),
    [
        ("honker_enqueue('q', '{}')", "honker_enqueue"),
        ("honker_ack(1)", "honker_ack"),
        ("notify('c')", "notify"),
        (
            "honker_scheduler_register('a', 'q', '@every 1s', 'null', 0)",
            "honker_scheduler_register",
        ),
        (
            "honker_scheduler_register('a', 'q', '@every 1s', 'null', 0, NULL, 3, 4)",
            "honker_scheduler_register",
        ),
        (
            "honker_scheduler_update('a', NULL, NULL, NULL, NULL, 0, NULL)",
            "honker_scheduler_update",
        ),
        ("honker_bootstrap(1)", "honker_bootstrap"),
    ],
)
def test_wrong_argument_count(db: honker.Database, expr: str, name: str) -> None:
    with pytest.raises(RuntimeError) as info:
        call(db, expr)
    assert str(info.value) == f"wrong number of arguments to function {name}()"


def test_errors_roll_back_with_the_callers_transaction(db: honker.Database) -> None:
    with pytest.raises(RuntimeError, match=r"ttl_s must be positive"):
        with db.transaction() as tx:
            tx.query("SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL)")
            tx.query("SELECT honker_lock_renew('l', 'o', 0)")
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]


def test_functions_join_the_callers_transaction(db: honker.Database) -> None:
    with pytest.raises(KeyError):
        with db.transaction() as tx:
            tx.query("SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL)")
            tx.query("SELECT notify('c', '1')")
            raise KeyError
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]
    assert db.query("SELECT count(*) AS n FROM _honker_notifications") == [{"n": 0}]


# -- bootstrap and notify -------------------------------------------------------------


def test_bootstrap(db: honker.Database) -> None:
    assert call(db, "honker_bootstrap()") == 1
    assert call(db, "honker_bootstrap()") == 1


def test_notify(db: honker.Database) -> None:
    first = call(db, "notify('ch', ?)", '"x"')
    second = call(db, "notify('ch', 'not json at all')")
    assert second == first + 1
    rows = db.query("SELECT id, channel, payload FROM _honker_notifications ORDER BY id")
    assert rows == [
        {"id": first, "channel": "ch", "payload": '"x"'},
        {"id": second, "channel": "ch", "payload": "not json at all"},
    ]
    with pytest.raises(RuntimeError, match=r"^Invalid function parameter type Integer at index 1$"):
        call(db, "notify('ch', 1)")
    with pytest.raises(RuntimeError, match=r"^Invalid function parameter type Null at index 0$"):
        call(db, "notify(NULL, 'x')")


# -- honker_enqueue -------------------------------------------------------------------


def test_enqueue_resolution(db: honker.Database) -> None:
    before = db_now(db)
    delayed = live(db, enqueue(db, run_at=5, delay=10))
    given = live(db, enqueue(db, run_at=5))
    now = live(db, enqueue(db, expires=30, priority=-2, max_attempts=0))
    after = db_now(db)
    assert before + 10 <= delayed["run_at"] <= after + 10, "delay wins"
    assert given["run_at"] == 5
    assert before <= now["run_at"] <= after
    assert before + 30 <= now["expires_at"] <= after + 30
    assert (now["priority"], now["max_attempts"], now["attempts"]) == (-2, 0, 0)
    assert (now["state"], now["worker_id"], now["claim_expires_at"]) == ("pending", None, None)
    assert db.query("SELECT count(*) AS n FROM _honker_notifications") == [{"n": 0}]


# -- honker_claim_batch -----------------------------------------------------------------


def test_claim_batch_json_is_byte_identical(db: honker.Database) -> None:
    payload = '{"name": "Jos\u00e9 \u2603", "path": "a/b", "tab": "\\t"}'
    job_id = enqueue(db, payload=payload)
    text = call(db, "honker_claim_batch('q', 'wörker', 5, 30)")
    row = live(db, job_id)
    expected = [
        {
            "attempts": 1,
            "claim_expires_at": row["claim_expires_at"],
            "id": job_id,
            "payload": payload,
            "queue": "q",
            "worker_id": "wörker",
        }
    ]
    assert text == serde(expected)
    assert text.startswith('[{"attempts":1,"claim_expires_at":')
    assert "☃" in text and "a/b" in text, "raw UTF-8, '/' not escaped"
    assert json.loads(json.loads(text)[0]["payload"]) == json.loads(payload), "double-encoded"


def test_claim_batch_n(db: honker.Database) -> None:
    for _ in range(5):
        enqueue(db)
    assert call(db, "honker_claim_batch('q', 'w', 0, 30)") == "[]"
    assert len(json.loads(call(db, "honker_claim_batch('q', 'w', 2, 30)"))) == 2
    assert len(json.loads(call(db, "honker_claim_batch('q', 'w', -1, 30)"))) == 3, "unlimited"
    assert call(db, "honker_claim_batch('q', 'w', -1, 30)") == "[]"


def test_claim_with_negative_timeout_is_already_expired(db: honker.Database) -> None:
    job_id = enqueue(db)
    (claim,) = json.loads(call(db, "honker_claim_batch('q', 'a', 1, -5)"))
    assert claim["claim_expires_at"] < db_now(db)
    assert call(db, "honker_ack(?, 'a')", job_id) == 0
    (again,) = json.loads(call(db, "honker_claim_batch('q', 'b', 1, 30)"))
    assert (again["id"], again["attempts"], again["worker_id"]) == (job_id, 2, "b")


def test_claim_dead_letters_exhausted_rows(db: honker.Database) -> None:
    job_id = enqueue(db, max_attempts=0)
    assert call(db, "honker_claim_batch('q', 'w', 1, 30)") == "[]"
    (dead,) = db.query("SELECT id, last_error FROM _honker_dead")
    assert dead == {"id": job_id, "last_error": "max attempts exceeded"}


# -- per-job functions ----------------------------------------------------------------


def _claimed(db: honker.Database, worker: str = "w", **kw: Any) -> int:
    job_id = enqueue(db, **kw)
    (claim,) = json.loads(call(db, "honker_claim_batch('q', ?, 1, 60)", worker))
    assert claim["id"] == job_id
    return job_id


def test_ack(db: honker.Database) -> None:
    job_id = _claimed(db)
    assert call(db, "honker_ack(?, 'other')", job_id) == 0
    assert call(db, "honker_ack(?, 'w')", job_id) == 1
    assert call(db, "honker_ack(?, 'w')", job_id) == 0


def test_ack_batch(db: honker.Database) -> None:
    a, b = _claimed(db), _claimed(db)
    c = _claimed(db, worker="other")
    ids = json.dumps([str(a), str(b), str(c), "999"])
    assert call(db, "honker_ack_batch(?, 'w')", ids) == 2, "numeric strings match by affinity"
    assert call(db, "honker_ack_batch('[]', 'w')") == 0
    with pytest.raises(RuntimeError, match=r"malformed JSON"):
        call(db, "honker_ack_batch('[1,', 'w')")


def test_retry(db: honker.Database) -> None:
    job_id = _claimed(db, max_attempts=2)
    assert call(db, "honker_retry(?, 'other', 0, 'e')", job_id) == 0
    before = db_now(db)
    assert call(db, "honker_retry(?, 'w', 40, 'e')", job_id) == 1
    after = db_now(db)
    row = live(db, job_id)
    assert (row["state"], row["worker_id"], row["claim_expires_at"], row["attempts"]) == (
        "pending", None, None, 1,
    )  # fmt: skip
    assert before + 40 <= row["run_at"] <= after + 40
    sql(db, "UPDATE _honker_live SET run_at = unixepoch() WHERE id = ?", job_id)
    json.loads(call(db, "honker_claim_batch('q', 'w', 1, 60)"))
    assert call(db, "honker_retry(?, 'w', 0, 'final')", job_id) == 1
    assert live(db, job_id) is None
    assert db.query("SELECT attempts, last_error FROM _honker_dead") == [
        {"attempts": 2, "last_error": "final"}
    ]


def test_fail(db: honker.Database) -> None:
    job_id = _claimed(db, max_attempts=9)
    assert call(db, "honker_fail(?, 'other', 'e')", job_id) == 0
    assert call(db, "honker_fail(?, 'w', 'broken')", job_id) == 1
    assert call(db, "honker_fail(?, 'w', 'broken')", job_id) == 0
    assert db.query("SELECT id, last_error FROM _honker_dead") == [
        {"id": job_id, "last_error": "broken"}
    ]
    pending = enqueue(db)
    assert call(db, "honker_fail(?, 'w', 'x')", pending) == 0, "a pending row never matches"


def test_heartbeat(db: honker.Database) -> None:
    job_id = _claimed(db)
    before = db_now(db)
    assert call(db, "honker_heartbeat(?, 'w', 500)", job_id) == 1
    after = db_now(db)
    assert before + 500 <= live(db, job_id)["claim_expires_at"] <= after + 500
    assert call(db, "honker_heartbeat(?, 'other', 500)", job_id) == 0
    assert call(db, "honker_heartbeat(?, 'w', -10)", job_id) == 1
    assert call(db, "honker_heartbeat(?, 'w', 500)", job_id) == 0, "late: the claim expired"


def test_cancel(db: honker.Database) -> None:
    job_id = _claimed(db)
    assert call(db, "honker_cancel(?)", job_id) == 1
    assert call(db, "honker_cancel(?)", job_id) == 0
    assert db.query("SELECT count(*) AS n FROM _honker_dead") == [{"n": 0}]


def test_get_job(db: honker.Database) -> None:
    with db.transaction() as tx:
        assert tx.query("SELECT honker_get_job(1) AS r, typeof(honker_get_job(1)) AS t") == [
            {"r": "", "t": "text"}
        ]
    job_id = enqueue(db, payload='{"k": "ü"}', expires=100)
    text = call(db, "honker_get_job(?)", job_id)
    row = live(db, job_id)
    assert text == serde(row)
    assert list(json.loads(text)) == sorted(row), "12 keys, alphabetical"
    assert len(json.loads(text)) == 12
    call(db, "honker_cancel(?)", job_id)
    assert call(db, "honker_get_job(?)", job_id) == ""


def test_next_claim_at_and_sweep_expired(db: honker.Database) -> None:
    assert call(db, "honker_queue_next_claim_at('q')") == 0
    later = enqueue(db, run_at=db_now(db) + 1000)
    assert call(db, "honker_queue_next_claim_at('q')") == live(db, later)["run_at"]
    expired = enqueue(db, expires=-1)
    assert call(db, "honker_sweep_expired('q')") == 1
    assert call(db, "honker_sweep_expired('q')") == 0
    assert db.query("SELECT id, last_error FROM _honker_dead") == [
        {"id": expired, "last_error": "expired"}
    ]
