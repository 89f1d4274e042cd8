"""The PostgreSQL backend itself: URL options, the schema and its migrations,
user SQL parameters, the change feed, what is not there yet, and secrets."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import psycopg
import pytest
from helpers import sql, wait_until, within

import honker
from honker.backends.postgres import params
from honker.backends.postgres.sql import MIGRATIONS, queries, with_limit

# -- opening ------------------------------------------------------------------------


def test_both_url_schemes_and_the_schema_option(pg_server: Any, new_schema, admin) -> None:
    first, second = new_schema(), new_schema()
    a = honker.open(pg_server.url(schema=first))
    b = honker.open(pg_server.url(schema=second).replace("postgresql://", "postgres://", 1))
    try:
        a.queue("q").enqueue(1)
        assert b.queue("q").claim_one("w") is None, "two schemas, two separate queues"
        assert a.queue("q").claim_one("w").payload == 1
    finally:
        a.close()
        b.close()
    for schema in (first, second):
        rows = admin.execute(
            "SELECT version FROM " + schema + ".honker_schema_version ORDER BY version"
        ).fetchall()
        assert [r[0] for r in rows] == [m.number for m in MIGRATIONS]


def test_the_default_schema_is_honker(pg_server: Any, admin) -> None:
    db = honker.open(pg_server.url())
    try:
        assert db.path == pg_server.url()
        row = admin.execute("SELECT to_regclass('honker._honker_live') IS NOT NULL").fetchone()
        assert row == (True,)
    finally:
        db.close()


@pytest.mark.parametrize(
    "option", ["schema=Bad", "schema=1x", "schema=a-b", "schema=" + "x" * 49, "pool_size=0"]
)
def test_bad_options(pg_server: Any, option: str) -> None:
    with pytest.raises(ValueError, match=option.split("=")[0]):
        honker.open(pg_server.url() + "&" + option)


def test_sqlite_only_arguments_are_refused(pg_url: str) -> None:
    with pytest.raises(ValueError, match="LISTEN/NOTIFY"):
        honker.open(pg_url, watcher_backend="polling")


def test_concurrent_first_opens_migrate_once(pg_server: Any, schema: str, admin) -> None:
    url = pg_server.url(schema=schema)
    opened: list[honker.Database] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(honker.open(url))
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for d in opened:
        d.close()
    assert errors == []
    rows = admin.execute(f"SELECT version FROM {schema}.honker_schema_version").fetchall()
    assert sorted(r[0] for r in rows) == [m.number for m in MIGRATIONS]


def test_a_newer_schema_is_refused(pg_server: Any, schema: str, admin) -> None:
    honker.open(pg_server.url(schema=schema)).close()
    admin.execute(f"INSERT INTO {schema}.honker_schema_version (version, name) VALUES (999, 'x')")
    with pytest.raises(RuntimeError, match="newer than this honker-py knows"):
        honker.open(pg_server.url(schema=schema))


def test_an_unreachable_server_is_a_runtime_error(pg_server: Any) -> None:
    url = pg_server.url("no_such_database")
    with pytest.raises(RuntimeError, match="no_such_database"):
        honker.open(url)


# -- secrets ------------------------------------------------------------------------


def test_the_password_stays_out_of_path_repr_errors_and_logs(
    pg_server: Any, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-pw"
    url = pg_server.url(schema=schema).replace("postgres@", f"postgres:{secret}@", 1)
    caplog.set_level(logging.DEBUG, logger="honker")
    db = honker.open(url + f"&password={secret}")  # trust auth: any password works
    try:
        assert secret not in db.path and "***" in db.path
        assert secret not in repr(db._backend)
        with pytest.raises(RuntimeError) as info:
            db.query("SELECT * FROM no_such_table")
        assert secret not in str(info.value)
    finally:
        db.close()
    bad = url.replace("/honker_test?", "/missing_db?", 1)
    with pytest.raises(RuntimeError) as info:
        honker.open(bad)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert all(secret not in r.getMessage() for r in caplog.records)


# -- user SQL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "args", "expected"),
    [
        ("SELECT ?", [1], ("SELECT %s", [1])),
        ("SELECT '?', \"?\", ? -- ?\n/* ? */", [1], ("SELECT '?', \"?\", %s -- ?\n/* ? */", [1])),
        ("SELECT $$?$$, $a$ ? $a$, ?", [1], ("SELECT $$?$$, $a$ ? $a$, %s", [1])),
        ("SELECT 'a%' LIKE ?", ["a%"], ("SELECT 'a%%' LIKE %s", ["a%"])),
        ("SELECT %s, '?'", [1], ("SELECT %s, '?'", [1])),
        ("SELECT %(x)s", {"x": 1}, ("SELECT %(x)s", {"x": 1})),
        ("SELECT '{}'::jsonb ? 'k'", None, ("SELECT '{}'::jsonb ? 'k'", None)),
        ("SELECT 1", [], ("SELECT 1", None)),
        ("SELECT E'\\'?', ?", (2,), ("SELECT E'\\'?', %s", [2])),
    ],
)
def test_parameter_styles(sql: str, args: Any, expected: tuple[str, Any]) -> None:
    assert params.convert(sql, args) == expected


def test_parameters_reach_the_server(db: honker.Database) -> None:
    assert db.query("SELECT ? AS a, 'x%' AS b", [5]) == [{"a": 5, "b": "x%"}]
    assert db.query("SELECT %s AS a", [6]) == [{"a": 6}]
    assert db.query("SELECT %(v)s AS a", {"v": 7}) == [{"a": 7}]
    assert db.query("SELECT '{\"k\": 1}'::jsonb ? 'k' AS has") == [{"has": True}]
    with db.transaction() as tx:
        assert tx.query("SELECT ?::text || ? AS s", ["a", "b"]) == [{"s": "ab"}]
    with pytest.raises(TypeError):
        db.query("SELECT ?", "not a list")


def test_unixepoch_is_the_servers_clock(db: honker.Database, admin) -> None:
    (row,) = db.query("SELECT unixepoch() AS t")
    (server,) = admin.execute("SELECT floor(extract(epoch FROM now()))::bigint").fetchone()
    assert abs(row["t"] - server) <= 1


# -- claims ------------------------------------------------------------------------------


def test_the_claim_walks_the_pending_index(db: honker.Database, admin, schema: str) -> None:
    """Claim cost is flat with depth: the claim reads the pending index from
    its start (a Limit over an Index Scan), never the whole queue."""
    q = db.queue("deep")
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO _honker_live (queue, payload)"
            " SELECT 'deep', '1' FROM generate_series(1, 20000)"
        )
    q.enqueue(2, delay=60)
    admin.execute(f"ANALYZE {schema}._honker_live")
    sql = "EXPLAIN " + with_limit(queries(schema)["claim"], 1)
    args = {"queue": "deep", "worker_id": "w", "timeout_s": 60}
    plan = "\n".join(r[0] for r in admin.execute(sql, args).fetchall())
    assert "_honker_live_pending" in plan, plan
    assert "Seq Scan on _honker_live" not in plan, plan
    assert q.claim_one("w") is not None


def test_the_claim_reuses_its_cached_plan(pg_server: Any, schema: str) -> None:
    """The claim's row limit is a literal (sql.with_limit), so PostgreSQL
    reuses one cached plan: with a ``LIMIT $n`` parameter it planned the claim
    on every call, which cost more than running it (bench/postgres.py). Single
    claims and batch claims each get theirs; the claims stay quiet (no BEGIN)."""
    db = honker.open(pg_server.url(schema=schema, pool_size="1"))
    try:
        q = db.queue("q")
        with db.transaction() as tx:
            for i in range(100):
                q.enqueue(i, tx=tx)
        # psycopg prepares a statement at its 6th run; PostgreSQL plans the
        # first 5 runs of a prepared statement anew, then keeps its plan.
        for _ in range(20):
            assert q.claim_one("w") is not None
            assert len(q.claim_batch("w", 3)) == 3
        with db.transaction() as tx:  # the pool's one connection: the claims' own
            rows = tx.query(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%%claimed AS%%'"
            )
        assert len(rows) == 2, rows
        for row in rows:
            assert row["generic_plans"] >= 8, row
            assert row["custom_plans"] <= 5, row
    finally:
        db.close()


def test_a_small_pool_serves_many_threads(pg_server: Any, schema: str) -> None:
    db = honker.open(pg_server.url(schema=schema, pool_size="2"))
    try:
        q = db.queue("q")
        with db.transaction() as tx:
            ids = {q.enqueue(i, tx=tx) for i in range(60)}
        got: list[int] = []

        def work() -> None:
            while (job := q.claim_one("w")) is not None:
                assert job.ack()
                got.append(job.id)

        threads = [threading.Thread(target=work) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(got) == sorted(ids)
    finally:
        db.close()


# -- the change feed ----------------------------------------------------------------------


async def test_the_feed_survives_a_lost_listen_connection(db: honker.Database, admin) -> None:
    q = db.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing: it waits now
    assert not task.done()
    channel = "honker_changes_" + db._backend.schema
    (killed,) = admin.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = %s",
        ["LISTEN " + channel],
    ).fetchone()
    assert killed == 1
    # The lost connection ticks the waiter; it finds nothing and waits again.
    job_id = await asyncio.to_thread(q.enqueue, "after")
    job = await within(task, 10)
    assert job.id == job_id
    # Once it listens again, a commit from elsewhere wakes the next wait.
    nxt = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing: it waits now

    def listening() -> bool:
        rows = admin.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query = %s", ["LISTEN " + channel]
        ).fetchall()
        return bool(rows)

    await asyncio.to_thread(wait_until, listening, 10)
    with psycopg.connect(db._backend._cfg.conninfo, autocommit=True) as other:
        other.execute(
            f"INSERT INTO {db._backend.schema}._honker_live (queue, payload) VALUES ('q', '3')"
        )
        other.execute(f"NOTIFY {channel}")
    assert (await within(nxt, 5)).payload == 3
    jobs.close()


async def test_close_ends_a_waiting_claim(db: honker.Database) -> None:
    jobs = db.queue("q").claim("w", idle_poll_s=None)
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing: it waits now
    db.close()
    with pytest.raises(RuntimeError, match="change feed closed"):
        await within(task, 5)
    with pytest.raises(RuntimeError, match="Database is closed"):
        db.queue("q2")


def _listeners(admin: Any) -> int:
    (n,) = admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE query LIKE '%%LISTEN honker_changes_%%' AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(n)


async def test_one_listen_connection_per_process(
    pg_server: Any, new_schema, admin, open_db
) -> None:
    before = _listeners(admin)
    a = open_db(pg_server.url(schema=new_schema()))
    b = open_db(pg_server.url(schema=new_schema()))
    qa, qb = a.queue("q"), b.queue("q")
    ja, jb = qa.claim("w", idle_poll_s=None), qb.claim("w", idle_poll_s=None)
    ta, tb = asyncio.create_task(anext(ja)), asyncio.create_task(anext(jb))
    await asyncio.sleep(0)  # the first claim found nothing: it waits now
    assert _listeners(admin) == before + 1, "two schemas, one LISTEN connection"
    await asyncio.to_thread(qb.enqueue, "b")
    assert (await within(tb, 5)).payload == "b"
    assert not ta.done(), "a commit in b's schema does not wake a's claim"
    await asyncio.to_thread(qa.enqueue, "a")
    assert (await within(ta, 5)).payload == "a"
    a.close()
    assert _listeners(admin) == before + 1, "b still listens"
    b.close()
    await asyncio.to_thread(wait_until, lambda: _listeners(admin) == before, 10)


def test_only_writing_transactions_notify(db: honker.Database) -> None:
    """An empty claim (every idle worker's loop) writes nothing, so it must not
    NOTIFY: waiters would wake each other in a loop."""
    q = db.queue("q")
    changes = db.update_events()
    try:
        for _ in range(3):
            assert q.claim_one("idle") is None
            assert q.get_job(1) is None
        with db.transaction() as tx:
            tx.query("SELECT count(*) FROM _honker_live")
        assert changes.wait_sync(0.3) is False, "reads and empty claims stay silent"
        q.enqueue(1)
        assert changes.wait_sync(5) is True, "a write ticks"
    finally:
        changes.close()


def test_a_failed_statement_aborts_the_transaction(db: honker.Database) -> None:
    q = db.queue("q")
    with pytest.raises(RuntimeError, match="current transaction is aborted"):
        with db.transaction() as tx:
            q.enqueue("lost", tx=tx)
            with pytest.raises(RuntimeError, match="division by zero"):
                tx.query("SELECT 1 / 0")
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 0}]
    assert db._tx_depth == 0
    q.enqueue("kept")  # the connection went back to the pool in a usable state
    assert q.claim_one("w").payload == "kept"


async def test_a_client_clock_an_hour_behind_still_wakes_on_time(
    db: honker.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim iterator sleeps until the next due job by the server's clock:
    this process's wall clock, here an hour behind, does not enter it."""
    q = db.queue("q")
    job_id = q.enqueue("later", delay=3600)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    jobs = q.claim("w", idle_poll_s=None)
    task = asyncio.create_task(anext(jobs))
    await asyncio.sleep(0)  # the first claim found nothing: it waits now
    assert not task.done()
    # This commit wakes the iterator once; then only the deadline can.
    await asyncio.to_thread(
        sql, db, "UPDATE _honker_live SET run_at = unixepoch() + 1 WHERE id = ?", job_id
    )
    assert (await within(task, 5)).id == job_id
    jobs.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["queues"],
        ["metrics"],
        ["jobs", "{url}", "q"],
        ["pause", "{url}", "q"],
        ["dashboard"],
    ],
)
def test_the_command_line_on_an_unreachable_server_hides_the_password(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from honker.__main__ import main

    url = "postgresql://app:s3cr3t@127.0.0.1:1/app"
    args = [a.format(url=url) for a in argv] if len(argv) > 1 else [*argv, url]
    try:
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    assert status == 1
    assert "cannot open postgresql://app:***@127.0.0.1:1/app" in err
    assert "s3cr3t" not in out + err


def test_a_lone_surrogate_is_invalid_text_and_writes_nothing(db: honker.Database) -> None:
    """As on SQLite (tests/conformance/reliability/test_bad_input.py): the
    named error, not psycopg's UnicodeEncodeError, and nothing written."""
    with pytest.raises(honker.InvalidTextError, match=r"lone surrogate.*PostgreSQL"):
        db.queue("mail\ud800").enqueue({"n": 1})
    with pytest.raises(honker.InvalidTextError):
        db.stream("orders\udcff").publish({"n": 1})
    assert db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"] == 0
    assert db.query("SELECT count(*) AS n FROM _honker_stream")[0]["n"] == 0
