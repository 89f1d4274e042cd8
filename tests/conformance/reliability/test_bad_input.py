"""Bad input to every public entry point: a round trip or a named error.

Each case either round-trips exactly (the value read back equals the value
put in) or raises a honker error that is also the builtin honker raises
(``TypeError`` / ``ValueError`` / ``RuntimeError``) and whose message says
what was wrong. After every case the file passes ``PRAGMA integrity_check``.

Conversions that are honker's documented behaviour rather than a round trip
are marked ``converts`` with the value they must give (docs/spec/python-api.md §6, §9):
``int()`` truncation of numeric options, integers beyond 64 bits as SQL
parameters becoming REAL, NaN as an SQL parameter becoming NULL (SQLite's
rule).
"""

# ruff: noqa: E501  (the case table reads best one case per line)
from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import within
from rel_support import integrity

import honker
from honker._errors import (
    ConfigError,
    DatabaseError,
    HonkerError,
    InvalidTextError,
    OutOfRangeError,
    ParameterError,
    ScheduleError,
)

NAN, INF = float("nan"), float("inf")
BIG = 2**70
SURROGATE = "a\ud800b"
NUL = "a\x00b"
MB = "n" * 2**20
SQLISH = "x'); DROP TABLE _honker_live; --\"`"
NAMES = {
    "empty": "",
    "nul": NUL,
    "1mb": MB,
    "sql": SQLISH,
    "unicode": "名前🦆",
}


@dataclass
class Raises:
    error: type[HonkerError]
    builtin: type[Exception]
    match: str


def _claim_payload(q: honker.Queue) -> Any:
    (job,) = q.claim_batch("w", 1)
    assert job.ack()
    return job.payload


def _tx(db: honker.Database, fn: Callable[[Any], Any]) -> Any:
    with db.transaction() as tx:
        return fn(tx)


def _sched(db: honker.Database, **kw: Any) -> None:
    args = {"name": "s", "queue": "q", "schedule": honker.crontab("* * * * *")} | kw
    honker.Scheduler(db).add(**args)


# (id, call(db, q) -> value, expected): expected is a Raises, or the value the
# call must return ("round trip" cases compute both sides in the call).
# fmt: off
CASES: list[tuple[str, Callable[[honker.Database, honker.Queue], Any], Any]] = [
    # -- payloads ---------------------------------------------------------------
    ("payload-set", lambda db, q: q.enqueue({1, 2}), Raises(ParameterError, TypeError, "JSON")),
    ("payload-object", lambda db, q: q.enqueue(object()), Raises(ParameterError, TypeError, "JSON")),
    ("payload-bytes", lambda db, q: q.enqueue(b"x"), Raises(ParameterError, TypeError, "bytes")),
    ("payload-nul", lambda db, q: (q.enqueue(NUL), _claim_payload(q))[1], NUL),
    ("payload-surrogate", lambda db, q: (q.enqueue(SURROGATE), _claim_payload(q))[1], SURROGATE),
    ("payload-10mb", lambda db, q: (q.enqueue("p" * 10 * 2**20), len(_claim_payload(q)))[1], 10 * 2**20),
    ("payload-nan", lambda db, q: math.isnan((q.enqueue(NAN), _claim_payload(q))[1]), True),
    ("payload-inf", lambda db, q: (q.enqueue([INF, -INF]), _claim_payload(q))[1], [INF, -INF]),
    ("payload-bigint", lambda db, q: (q.enqueue(BIG), _claim_payload(q))[1], BIG),
    ("payload-deep", lambda db, q: (q.enqueue([[[[{"a": None}]]]]), _claim_payload(q))[1], [[[[{"a": None}]]]]),
    # -- enqueue options --------------------------------------------------------
    ("priority-2**70", lambda db, q: q.enqueue(1, priority=BIG), Raises(OutOfRangeError, ValueError, "priority")),
    ("priority-nan", lambda db, q: q.enqueue(1, priority=NAN), Raises(ConfigError, ValueError, "priority")),
    ("priority-inf", lambda db, q: q.enqueue(1, priority=INF), Raises(OutOfRangeError, OverflowError, "priority")),
    ("priority-str", lambda db, q: q.enqueue(1, priority="high"), Raises(ConfigError, ValueError, "priority")),
    ("priority-none", lambda db, q: q.enqueue(1, priority=None), Raises(ParameterError, TypeError, "priority")),
    ("delay-str-number", lambda db, q: q.get_job(q.enqueue(1, delay="5"))["run_at"] - q.get_job(q.enqueue(2))["run_at"] in (4, 5), True),
    ("delay-word", lambda db, q: q.enqueue(1, delay="soon"), Raises(ConfigError, ValueError, "delay")),
    ("delay-list", lambda db, q: q.enqueue(1, delay=[]), Raises(ParameterError, TypeError, "delay")),
    ("run_at-2**63", lambda db, q: q.enqueue(1, run_at=2**63), Raises(OutOfRangeError, ValueError, "run_at")),
    ("run_at-inf", lambda db, q: q.enqueue(1, run_at=INF), Raises(OutOfRangeError, OverflowError, "run_at")),
    ("expires-nan", lambda db, q: q.enqueue(1, expires=NAN), Raises(ConfigError, ValueError, "expires")),
    ("expires-negative", lambda db, q: (q.enqueue(1, expires=-1), q.claim_batch("w", 1))[1], []),
    ("max_attempts-str", lambda db, q: q.enqueue(1, max_attempts="x"), Raises(ConfigError, ValueError, "max_attempts")),
    ("max_attempts-float", lambda db, q: q.get_job(q.enqueue(1, max_attempts=2.9))["max_attempts"], 2),
    ("enqueue-tx-wrong", lambda db, q: q.enqueue(1, tx=object()), Raises(ParameterError, TypeError, "tx")),
    # -- queue names and options --------------------------------------------------
    *[
        (f"queue-name-{k}", lambda db, q, n=n, k=k: (db.queue(n).enqueue(k), _claim_payload(db.queue(n)))[1], k)
        for k, n in NAMES.items()
    ],
    ("queue-name-surrogate", lambda db, q: db.queue(SURROGATE).enqueue(1), Raises(InvalidTextError, ValueError, "surrogate")),
    ("queue-name-list", lambda db, q: db.queue(["q"]), Raises(ConfigError, ValueError, "queue name")),
    ("queue-vt-none", lambda db, q: db.queue("z", visibility_timeout_s=None), Raises(ParameterError, TypeError, "visibility_timeout_s")),
    ("queue-ma-nan", lambda db, q: db.queue("z", max_attempts=NAN), Raises(ConfigError, ValueError, "max_attempts")),
    # -- claiming and per-job operations ---------------------------------------------
    ("claim-n-str", lambda db, q: q.claim_batch("w", "x"), Raises(ConfigError, ValueError, "n")),
    ("claim-n-none", lambda db, q: q.claim_batch("w", None), Raises(ParameterError, TypeError, "n")),
    ("claim-n-inf", lambda db, q: q.claim_batch("w", INF), Raises(OutOfRangeError, OverflowError, "n")),
    ("claim-n-2**70", lambda db, q: q.claim_batch("w", BIG), Raises(OutOfRangeError, ValueError, "n")),
    ("claim-n-negative", lambda db, q: (q.enqueue(1), q.claim_batch("w", -5))[1], []),
    ("claim-worker-none", lambda db, q: (q.enqueue(1), q.claim_batch(None, 1))[1], Raises(ParameterError, TypeError, "worker_id")),
    ("claim-worker-surrogate", lambda db, q: (q.enqueue(1), q.claim_batch(SURROGATE, 1))[1], Raises(InvalidTextError, ValueError, "surrogate")),
    ("claim-iter-worker-int", lambda db, q: q.claim(5), Raises(ParameterError, TypeError, "worker_id")),
    *[
        (f"worker-id-{k}", lambda db, q, n=n, k=k: (q.enqueue(1), q.claim_batch(n, 1)[0].ack())[1], True)
        for k, n in NAMES.items()
    ],
    ("ack-id-str", lambda db, q: q.ack("x", "w"), Raises(ConfigError, ValueError, "job_id")),
    ("ack-id-2**70", lambda db, q: q.ack(BIG, "w"), Raises(OutOfRangeError, ValueError, "job_id")),
    ("ack-id-unknown", lambda db, q: q.ack(123456, "w"), False),
    ("ack_batch-int", lambda db, q: q.ack_batch(5, "w"), Raises(ParameterError, TypeError, "job_ids")),
    ("ack_batch-item", lambda db, q: q.ack_batch([1, "x"], "w"), Raises(ConfigError, ValueError, "job_ids")),
    ("ack_batch-empty", lambda db, q: q.ack_batch([], "w"), 0),
    ("retry-delay-nan", lambda db, q: q.retry(1, "w", NAN, "e"), Raises(ConfigError, ValueError, "delay_s")),
    ("fail-error-surrogate", lambda db, q: (q.enqueue(1), q.claim_batch("w", 1)[0].fail(SURROGATE))[1], Raises(InvalidTextError, ValueError, "surrogate")),
    ("fail-error-1mb", lambda db, q: (q.enqueue(1), q.claim_batch("w", 1)[0].fail(MB), db.query("SELECT last_error FROM _honker_dead")[0]["last_error"])[2], MB),
    ("fail-id-none", lambda db, q: q.fail(None, "w", "e"), Raises(ParameterError, TypeError, "job_id")),
    ("heartbeat-extend-str", lambda db, q: q.heartbeat(1, "w", "x"), Raises(ConfigError, ValueError, "extend_s")),
    ("heartbeat-extend-inf", lambda db, q: q.heartbeat(1, "w", INF), Raises(OutOfRangeError, OverflowError, "extend_s")),
    ("cancel-id-float", lambda db, q: q.cancel(q.enqueue(1) + 0.5), True),
    ("get_job-id-str", lambda db, q: q.get_job("one"), Raises(ConfigError, ValueError, "job_id")),
    # -- results -------------------------------------------------------------------
    ("result-roundtrip", lambda db, q: (q.save_result(7, {"r": [NUL, SURROGATE]}), q.get_result(7))[1], (True, {"r": [NUL, SURROGATE]})),
    ("result-ttl-nan", lambda db, q: q.save_result(1, 1, ttl=NAN), Raises(ConfigError, ValueError, "ttl")),
    ("result-ttl-inf", lambda db, q: q.save_result(1, 1, ttl=INF), Raises(OutOfRangeError, OverflowError, "ttl")),
    ("result-ttl-negative", lambda db, q: (q.save_result(1, "v", ttl=-1), q.get_result(1))[1], (True, "v")),
    ("result-value-set", lambda db, q: q.save_result(1, {1}), Raises(ParameterError, TypeError, "JSON")),
    ("result-id-str", lambda db, q: q.get_result("x"), Raises(ConfigError, ValueError, "job_id")),
    # -- streams -----------------------------------------------------------------------
    *[
        (f"stream-name-{k}", lambda db, q, n=n, k=k: (db.stream(n).publish(k, key=n), db.stream(n)._read_since(0)[0]["payload"])[1], json.dumps(k))
        for k, n in NAMES.items()
    ],
    ("stream-name-list", lambda db, q: db.stream(["s"]), Raises(ParameterError, TypeError, "stream name")),
    ("stream-name-surrogate", lambda db, q: db.stream(SURROGATE).publish(1), Raises(InvalidTextError, ValueError, "surrogate")),
    ("stream-key-int", lambda db, q: db.stream("s").publish(1, key=5), Raises(ParameterError, TypeError, "key")),
    ("stream-key-surrogate", lambda db, q: db.stream("s").publish(1, key=SURROGATE), Raises(InvalidTextError, ValueError, "surrogate")),
    ("stream-payload-set", lambda db, q: db.stream("s").publish({1}), Raises(ParameterError, TypeError, "JSON")),
    ("stream-offset-str", lambda db, q: db.stream("s").save_offset("c", "x"), Raises(ConfigError, ValueError, "offset")),
    ("stream-offset-2**70", lambda db, q: db.stream("s").save_offset("c", BIG), Raises(OutOfRangeError, ValueError, "offset")),
    ("stream-from-nan", lambda db, q: db.stream("s").subscribe(from_offset=NAN), Raises(ConfigError, ValueError, "from_offset")),
    ("stream-consumer-1mb", lambda db, q: (db.stream("s").save_offset(MB, 3), db.stream("s").get_offset(MB))[1], 3),
    # -- notify ------------------------------------------------------------------------
    ("notify-channel-int", lambda db, q: _tx(db, lambda tx: tx.notify(5, 1)), Raises(ParameterError, TypeError, "channel")),
    ("notify-channel-surrogate", lambda db, q: _tx(db, lambda tx: tx.notify(SURROGATE, 1)), Raises(InvalidTextError, ValueError, "surrogate")),
    ("notify-payload-set", lambda db, q: _tx(db, lambda tx: tx.notify("c", {1})), Raises(ParameterError, TypeError, "JSON")),
    ("listen-channel-surrogate", lambda db, q: db.listen(SURROGATE), Raises(InvalidTextError, ValueError, "surrogate")),
    ("prune-older-str", lambda db, q: db.prune_notifications(older_than_s="old"), Raises(ConfigError, ValueError, "older_than_s")),
    ("prune-older-2**70", lambda db, q: db.prune_notifications(older_than_s=BIG), Raises(OutOfRangeError, ValueError, "older_than_s")),
    ("prune-keep-nan", lambda db, q: db.prune_notifications(max_keep=NAN), Raises(ConfigError, ValueError, "max_keep")),
    ("prune-keep-negative", lambda db, q: db.prune_notifications(max_keep=-1), Raises(ConfigError, ValueError, "max_keep")),
    ("prune-keep-2**70", lambda db, q: db.prune_notifications(max_keep=BIG), 0),
    # -- locks and rate limits ------------------------------------------------------------
    *[
        (f"lock-name-{k}", lambda db, q, n=n, k=k: _lock_roundtrip(db, n), True)
        for k, n in NAMES.items()
    ],
    ("lock-name-none", lambda db, q: db.lock(None), Raises(ParameterError, TypeError, "lock name")),
    ("lock-name-surrogate", lambda db, q: db.lock(SURROGATE).__enter__(), Raises(InvalidTextError, ValueError, "surrogate")),
    ("lock-ttl-str", lambda db, q: db.lock("l", ttl="x"), Raises(ConfigError, ValueError, "ttl")),
    ("lock-ttl-nan", lambda db, q: db.lock("l", ttl=NAN), Raises(ConfigError, ValueError, "ttl")),
    ("lock-ttl-inf", lambda db, q: db.lock("l", ttl=INF), Raises(OutOfRangeError, OverflowError, "ttl")),
    ("lock-renew-negative", lambda db, q: _renew(db, -1), Raises(DatabaseError, RuntimeError, "ttl_s must be positive")),
    ("rate-limit-str", lambda db, q: db.try_rate_limit("r", "x", 1), Raises(ConfigError, ValueError, "limit")),
    ("rate-limit-nan", lambda db, q: db.try_rate_limit("r", NAN, 1), Raises(ConfigError, ValueError, "limit")),
    ("rate-per-inf", lambda db, q: db.try_rate_limit("r", 1, INF), Raises(OutOfRangeError, OverflowError, "per")),
    ("rate-zero", lambda db, q: db.try_rate_limit("r", 0, 1), Raises(ConfigError, ValueError, "positive")),
    ("rate-name-surrogate", lambda db, q: db.try_rate_limit(SURROGATE, 1, 1), Raises(InvalidTextError, ValueError, "surrogate")),
    *[
        (f"rate-name-{k}", lambda db, q, n=n, k=k: [db.try_rate_limit(n, 1, 3600) for _ in range(2)], [True, False])
        for k, n in NAMES.items()
    ],
    # -- scheduler ------------------------------------------------------------------------
    ("sched-schedule-str", lambda db, q: _sched(db, schedule="* * * * *"), Raises(ParameterError, TypeError, "CronSchedule")),
    ("sched-name-none", lambda db, q: _sched(db, name=None), Raises(ParameterError, TypeError, "name")),
    ("sched-queue-int", lambda db, q: _sched(db, queue=1), Raises(ParameterError, TypeError, "queue")),
    ("sched-priority-str", lambda db, q: _sched(db, priority="x"), Raises(ConfigError, ValueError, "priority")),
    ("sched-expires-inf", lambda db, q: _sched(db, expires=INF), Raises(OutOfRangeError, OverflowError, "expires")),
    ("sched-payload-set", lambda db, q: _sched(db, payload={1}), Raises(ParameterError, TypeError, "JSON")),
    ("sched-cron-garbage", lambda db, q: honker.crontab("61 * * * *"), Raises(ScheduleError, ValueError, "out of range")),
    ("sched-name-sql", lambda db, q: (_sched(db, name=SQLISH), [t["name"] for t in honker.Scheduler(db).list()])[1], [SQLISH]),
    ("sched-tick-now-str", lambda db, q: honker.Scheduler(db).tick(now="x"), Raises(ConfigError, ValueError, "now")),
    # -- open() --------------------------------------------------------------------------
    ("open-readers-str", lambda db, q: honker.open(db.path, max_readers="x"), Raises(ConfigError, ValueError, "max_readers")),
    ("open-readers-none", lambda db, q: honker.open(db.path, max_readers=None), Raises(ParameterError, TypeError, "max_readers")),
    ("open-synchronous", lambda db, q: honker.open(db.path, synchronous="full"), Raises(ConfigError, ValueError, "synchronous")),
    ("open-backend", lambda db, q: honker.open(db.path, watcher_backend="KERNEL"), Raises(ConfigError, ValueError, "backend")),
    ("open-poll-nan", lambda db, q: honker.open(db.path, watcher_poll_interval_ms=NAN), Raises(ConfigError, ValueError, "poll interval")),
    ("open-poll-inf", lambda db, q: honker.open(db.path, watcher_poll_interval_ms=INF), Raises(ConfigError, ValueError, "poll interval")),
    ("open-poll-zero", lambda db, q: honker.open(db.path, watcher_poll_interval_ms=0), Raises(ConfigError, ValueError, "poll interval")),
    ("open-path-nul", lambda db, q: honker.open(db.path + "\x00x"), Raises(ConfigError, ValueError, "NUL")),
    ("open-path-surrogate", lambda db, q: honker.open(db.path + SURROGATE), Raises(InvalidTextError, ValueError, "surrogate")),
    ("open-path-bytes", lambda db, q: honker.open(db.path.encode()), Raises(ParameterError, TypeError, "path")),
    # -- tx.execute / tx.query / db.query -------------------------------------------------
    ("sql-params-roundtrip", lambda db, q: _tx(db, lambda tx: list(tx.query("SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f", [NUL, b"\x00\xff", 2**63 - 1, -(2**63), INF, MB])[0].values())), [NUL, b"\x00\xff", 2**63 - 1, -(2**63), INF, MB]),
    ("sql-params-2**64-converts", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ? AS v", [2**64]))[0]["v"], float(2**64)),
    ("sql-params-nan-converts", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ? AS v", [NAN]))[0]["v"], None),
    ("sql-params-object", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ?", [object()])), Raises(ParameterError, TypeError, "unsupported SQL parameter type")),
    ("sql-params-dict", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ?", {"a": 1})), Raises(ParameterError, TypeError, "dict")),
    ("sql-params-str", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ?", "a")), Raises(ParameterError, TypeError, "string")),
    ("sql-params-count", lambda db, q: _tx(db, lambda tx: tx.query("SELECT ?", [1, 2])), Raises(DatabaseError, RuntimeError, "bindings")),
    ("sql-params-surrogate", lambda db, q: _tx(db, lambda tx: tx.execute("INSERT INTO t VALUES (?)", [SURROGATE])), Raises(InvalidTextError, ValueError, "surrogate")),
    ("sql-text-surrogate", lambda db, q: _tx(db, lambda tx: tx.query(f"SELECT '{SURROGATE}'")), Raises(InvalidTextError, ValueError, "surrogate")),
    ("sql-text-nul", lambda db, q: _tx(db, lambda tx: tx.query("SELECT 1\x00")), Raises(DatabaseError, RuntimeError, "null character")),
    ("sql-not-str", lambda db, q: _tx(db, lambda tx: tx.query(5)), Raises(ParameterError, TypeError, "sql")),
    ("sql-two-statements", lambda db, q: _tx(db, lambda tx: tx.execute("SELECT 1; DROP TABLE _honker_live")), Raises(DatabaseError, RuntimeError, "one statement")),
    ("sql-syntax", lambda db, q: _tx(db, lambda tx: tx.execute("SELEKT 1")), Raises(DatabaseError, RuntimeError, "syntax error")),
    ("db-query-surrogate", lambda db, q: db.query("SELECT ?", [SURROGATE]), Raises(InvalidTextError, ValueError, "surrogate")),
    ("db-query-not-str", lambda db, q: db.query(b"SELECT 1"), Raises(ParameterError, TypeError, "sql")),
    ("db-query-injection-as-param", lambda db, q: db.query("SELECT ? AS v", [SQLISH])[0]["v"], SQLISH),
    ("honker-fn-wrong-type", lambda db, q: _tx(db, lambda tx: tx.query("SELECT honker_ack('x', 'w')")), Raises(DatabaseError, RuntimeError, "Invalid function parameter type")),
]
# fmt: on


def _lock_roundtrip(db: honker.Database, name: str) -> bool:
    with db.lock(name, ttl=60):
        rows = db.query("SELECT name FROM _honker_locks")
        assert [r["name"] for r in rows] == [name]
    return db.query("SELECT COUNT(*) AS n FROM _honker_locks")[0]["n"] == 0


def _renew(db: honker.Database, ttl: int) -> bool:
    with db.lock("l") as lock:
        return lock.renew(ttl)


@pytest.mark.parametrize(("call", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(db: honker.Database, db_path: str, call: Any, expected: Any) -> None:
    q = db.queue("q")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE t (v TEXT)")
        lives_before = tx.query("SELECT COUNT(*) AS n FROM _honker_live")[0]["n"]
    assert lives_before == 0
    if isinstance(expected, Raises):
        with pytest.raises(expected.error) as info:
            result = call(db, q)
            if isinstance(result, honker.Database):  # an open() that should have failed
                result.close()
        err = info.value
        assert isinstance(err, HonkerError)
        assert isinstance(err, expected.builtin), type(err).__mro__
        assert expected.match in str(err), str(err)
        assert len(str(err)) < 1000, "the message must not echo a huge argument"
    else:
        result = call(db, q)
        assert result == expected
    # Nothing it did (or failed to do) damaged the file or left the writer busy.
    with db.transaction() as tx:
        tx.execute("INSERT INTO t VALUES ('still writable')")
    assert integrity(db_path) == "ok"


async def test_notify_listen_roundtrip_of_awkward_payloads(db: honker.Database) -> None:
    payloads = [NUL, SURROGATE, "p" * 2**20, {"k": [1.5, None, True]}, "", None]
    listener = db.listen(SQLISH)
    with db.transaction() as tx:
        for p in payloads:
            tx.notify(SQLISH, p)
    got = [(await within(anext(listener), 5)).payload for _ in payloads]
    assert got == payloads
    listener.close()


async def test_subscribe_roundtrip_of_awkward_payloads(db: honker.Database) -> None:
    stream = db.stream(NUL)
    payloads = [NUL, SURROGATE, MB, [INF], {"nested": {"x": [1, 2]}}]
    for p in payloads:
        stream.publish(p, key=SQLISH)
    events = stream.subscribe(consumer=MB)
    got = [await within(anext(events), 5) for _ in payloads]
    assert [e.payload for e in got] == payloads
    assert {e.key for e in got} == {SQLISH}
    events.close()


def test_every_case_names_a_known_outcome() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case id"
    assert asyncio.iscoroutinefunction(test_notify_listen_roundtrip_of_awkward_payloads)
