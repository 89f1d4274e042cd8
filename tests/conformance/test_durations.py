"""Durations added to the clock never wrap (issue: time overflow).

Every duration argument of the Python API is added to SQLite's clock and the
sum stored as a 64-bit INTEGER. Property, over the whole 64-bit range and
beyond: each call either stores exactly ``now + d`` as an INTEGER or raises
``honker.OutOfRangeError`` naming the argument, with nothing written; the file
passes ``integrity_check`` afterwards. The registered SQL functions keep
honker's wrapping arithmetic (pinned by the interop suite).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import honker
from honker._marshal import DURATION_MAX, I64_MAX, I64_MIN
from honker._worker import _compute_delay

EDGES = [0, 1, -1, DURATION_MAX, DURATION_MAX + 1, -DURATION_MAX, -DURATION_MAX - 1]
EDGES += [I64_MAX, I64_MIN, I64_MAX - 1_800_000_000, 2**64, -(2**64), 2**70]
DURATIONS = st.one_of(
    st.integers(min_value=I64_MIN, max_value=I64_MAX),
    st.integers(min_value=DURATION_MAX - 10**12, max_value=I64_MAX),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.sampled_from(EDGES),
)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def _now(db: honker.Database) -> int:
    return int(db.query("SELECT unixepoch() AS t")[0]["t"])


def _column(db: honker.Database, sql: str, params: list[Any]) -> tuple[Any, str]:
    """``sql`` selects one column of one row: its value and its SQLite type."""
    rows = db.query(f"SELECT v, typeof(v) AS t FROM ({sql})", params)
    assert len(rows) == 1, rows
    return rows[0]["v"], rows[0]["t"]


@contextmanager
def _exact_or_refused(db: honker.Database, name: str, d: int) -> Iterator[Callable[..., None]]:
    """Run the block; if it raised OutOfRangeError it must name ``name`` and
    ``d`` must be out of range; otherwise ``check(value, type)`` asserts the
    stored value is now + d as an INTEGER."""
    before = _now(db)
    refused = False

    def check(value: Any, typ: str) -> None:
        after = _now(db)
        assert typ == "integer", (name, d, value, typ)
        assert before + d <= value <= after + d, (name, d, value, before, after)

    try:
        yield check
    except honker.OutOfRangeError as exc:
        refused = True
        assert name in str(exc), exc
        assert abs(d) > DURATION_MAX, (name, d, exc)
    if not refused:
        assert abs(d) <= DURATION_MAX, (name, d, "accepted")
    assert db.query("PRAGMA integrity_check")[0]["integrity_check"] == "ok"


def _property(db: honker.Database, body: Callable[[honker.Database, int], None]) -> None:
    @PROPERTY
    @given(DURATIONS)
    def prop(d: int) -> None:
        body(db, d)

    prop()


@pytest.fixture
def pdb(db_path: str) -> Iterator[honker.Database]:
    db = honker.open(db_path)
    try:
        yield db
    finally:
        db.close()


def test_enqueue_delay(pdb: honker.Database) -> None:
    q = pdb.queue("q")
    sql = "SELECT run_at AS v FROM _honker_live WHERE id = ?"

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "delay", d) as check:
            jid = q.enqueue(1, delay=d)
            check(*_column(db, sql, [jid]))
            q.cancel(jid)
        assert db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"] == 0

    _property(pdb, body)


def test_enqueue_expires(pdb: honker.Database) -> None:
    q = pdb.queue("q")

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "expires", d) as check:
            jid = q.enqueue(1, expires=d)
            sql = "SELECT expires_at AS v FROM _honker_live WHERE id = ?"
            check(*_column(db, sql, [jid]))
            q.cancel(jid)
        assert db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"] == 0

    _property(pdb, body)


@pytest.mark.parametrize("path", ["claim_one", "claim_batch", "claim_iterator"])
def test_claim_visibility_timeout(pdb: honker.Database, path: str) -> None:
    sql = "SELECT claim_expires_at AS v FROM _honker_live WHERE id = ?"

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "visibility_timeout_s", d) as check:
            q = honker.Queue(db, "vt", visibility_timeout_s=d)
            jid = q.enqueue({"n": 1})
            try:
                if path == "claim_one":
                    job = q.claim_one("w")
                elif path == "claim_batch":
                    job = q.claim_batch("w", 4)[0]
                else:
                    job = asyncio.run(_first(q))
                assert job is not None and job.id == jid
                check(*_column(db, sql, [jid]))
            except honker.OutOfRangeError:
                row = q.get_job(jid)
                assert row is not None
                assert (row["state"], row["attempts"], row["worker_id"]) == ("pending", 0, None)
                raise
            finally:
                q.cancel(jid)

    _property(pdb, body)


async def _first(q: honker.Queue) -> honker.Job:
    it = q.claim("w")
    try:
        return await it.__anext__()
    finally:
        it.close()


def test_heartbeat_extend(pdb: honker.Database) -> None:
    q = pdb.queue("hb")

    def body(db: honker.Database, d: int) -> None:
        q.enqueue(1)
        job = q.claim_one("w")
        assert job is not None
        expires = q.get_job(job.id)["claim_expires_at"]  # type: ignore[index]
        try:
            with _exact_or_refused(db, "extend_s", d) as check:
                try:
                    assert job.heartbeat(extend_s=d)
                except honker.OutOfRangeError:
                    assert q.get_job(job.id)["claim_expires_at"] == expires  # type: ignore[index]
                    raise
                sql = "SELECT claim_expires_at AS v FROM _honker_live WHERE id = ?"
                check(*_column(db, sql, [job.id]))
        finally:
            q.cancel(job.id)

    _property(pdb, body)


def test_retry_delay(pdb: honker.Database) -> None:
    q = pdb.queue("retry", max_attempts=5)

    def body(db: honker.Database, d: int) -> None:
        q.enqueue(1)
        job = q.claim_one("w")
        assert job is not None
        try:
            with _exact_or_refused(db, "delay_s", d) as check:
                try:
                    assert job.retry(delay_s=d, error="e")
                except honker.OutOfRangeError:
                    row = q.get_job(job.id)
                    assert row is not None and (row["state"], row["attempts"]) == ("processing", 1)
                    raise
                sql = "SELECT run_at AS v FROM _honker_live WHERE id = ?"
                check(*_column(db, sql, [job.id]))
        finally:
            q.cancel(job.id)

    _property(pdb, body)


def test_lock_ttl_and_renew(pdb: honker.Database) -> None:
    sql = "SELECT expires_at AS v FROM _honker_locks WHERE name = ?"

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "ttl", d) as check:
            lock = db.lock("l", ttl=d)
            with lock:
                check(*_column(db, sql, ["l"]))
        with db.lock("m", ttl=60) as held:
            # renew(ttl=0) means "the lock's own TTL", as in honker
            with _exact_or_refused(db, "ttl", d or 60) as check:
                try:
                    held.renew(ttl=d)
                except honker.SQLFunctionError:
                    assert d <= 0  # honker: "ttl_s must be positive"
                else:
                    check(*_column(db, sql, ["m"]))

    _property(pdb, body)


def test_result_ttl(pdb: honker.Database) -> None:
    q = pdb.queue("results")
    sql = "SELECT expires_at AS v FROM _honker_results WHERE job_id = ?"

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "ttl", d) as check:
            q.save_result(7, "v", ttl=d)
            value, typ = _column(db, sql, [7])
            if d > 0:
                check(value, typ)
            else:
                assert value is None  # ttl <= 0 keeps it forever

    _property(pdb, body)


def test_scheduler_expires(pdb: honker.Database) -> None:
    sched = honker.Scheduler(pdb)

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "expires", d) as check:
            try:
                sched.add(name="s", queue="cron", schedule=honker.every_s(1), payload=1, expires=d)
                fires = sched.tick(now=_now(db) + 5)
                assert fires
                row = db.query(
                    "SELECT expires_at AS v, typeof(expires_at) AS t FROM _honker_live "
                    "WHERE queue = 'cron' ORDER BY id DESC LIMIT 1"
                )[0]
                check(row["v"], row["t"])
            finally:
                sched.remove("s")
                with db.transaction() as tx:
                    tx.execute("DELETE FROM _honker_live WHERE queue = 'cron'")
        sched.add(name="u", queue="cron", schedule=honker.every_s(1), payload=1)
        try:
            with _exact_or_refused(db, "expires", d):
                sched.update("u", expires=d)
        finally:
            sched.remove("u")

    _property(pdb, body)


@pytest.mark.parametrize("call", ["prune_notifications", "sweep_rate_limits"])
def test_subtracted_durations(pdb: honker.Database, call: str) -> None:
    """``now - older_than_s`` is compared, not stored: still range-checked."""

    def body(db: honker.Database, d: int) -> None:
        with _exact_or_refused(db, "older_than_s", d):
            getattr(db, call)(older_than_s=d)

    _property(pdb, body)


def test_backoff_is_capped_below_the_64_bit_limit() -> None:
    """Worker and outbox back-off grow exponentially; they stop at DURATION_MAX."""
    assert _compute_delay(5, 2, 200) == DURATION_MAX
    assert _compute_delay(60, 2.0, 5000) == DURATION_MAX  # float power overflow
    assert _compute_delay(float("inf"), 1.0, 1) == DURATION_MAX
    assert _compute_delay(5, 2, 4) == 40  # below the cap: exact, as before


def test_outbox_backoff_retries_stay_integer(db: honker.Database) -> None:
    box = db.outbox("hooks", lambda _p: None, max_attempts=500, base_backoff_s=2**62)
    assert box._backoff_s(1) == 2**62
    assert box._backoff_s(400) == DURATION_MAX
