"""db.transaction(), Transaction.execute/query/notify, and db.query isolation
(docs/spec/python-api.md §5, §6 last part, sharp edges 1 and 21; docs/spec/engine.md §1.2)."""

from __future__ import annotations

import gc
import sqlite3
import threading

import pytest
from helpers import wait_until

import honker

NESTED = (
    "nested db.transaction() is not supported: the writer is a single connection slot and "
    "re-entry deadlocks on this thread. Keep one open transaction and pass tx= to "
    "enqueue/publish/..."
)
EXECUTE_RETURNED = "Execute returned results - did you mean to call query?"


# A table of the test's own, read in insertion order (SQLite's rowid, an identity on PostgreSQL).
CREATE_T = {
    "sqlite": "CREATE TABLE t (x)",
    "postgres": "CREATE TABLE t (x INTEGER, rowid INTEGER GENERATED ALWAYS AS IDENTITY)",
}


@pytest.fixture
def table(db: honker.Database, backend: str) -> honker.Database:
    with db.transaction() as tx:
        tx.execute(CREATE_T[backend])
    return db


def _xs(db: honker.Database) -> list[object]:
    return [r["x"] for r in db.query("SELECT x FROM t ORDER BY rowid")]


def test_commit_on_success(table: honker.Database) -> None:
    with table.transaction() as tx:
        assert tx.execute("INSERT INTO t VALUES (?)", [1]) is None
    assert _xs(table) == [1]


def test_rollback_on_exception_which_propagates(table: honker.Database) -> None:
    with pytest.raises(KeyError):
        with table.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1)")
            raise KeyError("boom")
    assert _xs(table) == []
    assert table._tx_depth == 0
    with table.transaction() as tx:  # the slot was released
        tx.execute("INSERT INTO t VALUES (2)")
    assert _xs(table) == [2]


def test_nested_transaction_raises_and_outer_survives(table: honker.Database) -> None:
    with table.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        assert table._tx_depth == 1
        with pytest.raises(RuntimeError) as info:
            with table.transaction():
                pass
        assert str(info.value) == NESTED
        assert table._tx_depth == 1
        tx.execute("INSERT INTO t VALUES (2)")
    assert table._tx_depth == 0
    assert _xs(table) == [1, 2]


def test_helpers_do_not_join_an_open_transaction(db: honker.Database) -> None:
    q = db.queue("q")
    with db.transaction() as tx:
        for call in (lambda: q.enqueue(1), lambda: q.claim_one("w"), lambda: q.get_job(1)):
            with pytest.raises(RuntimeError, match=r"^nested db.transaction"):
                call()
        # tx= joins; a cached db.queue() and db.query work inside.
        q.enqueue(2, tx=tx)
        assert db.queue("q") is q
        assert db.query("SELECT 1 AS one") == [{"one": 1}]
    assert [r["payload"] for r in db.query("SELECT payload FROM _honker_live")] == ["2"]


@pytest.mark.sqlite_only(
    reason="SQLite's single writer; PostgreSQL runs transactions of other threads concurrently"
)
def test_other_threads_wait_for_the_writer(table: honker.Database) -> None:
    started, finished = threading.Event(), threading.Event()
    seen: list[object] = []
    errors: list[BaseException] = []

    def other() -> None:
        started.set()
        try:
            with table.transaction() as tx:
                seen.extend(r["x"] for r in tx.query("SELECT x FROM t"))
                tx.execute("INSERT INTO t VALUES ('b')")
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finished.set()

    with table.transaction() as tx:
        tx.execute("INSERT INTO t VALUES ('a')")
        t = threading.Thread(target=other)
        t.start()
        wait_until(started.is_set)
        assert not finished.is_set()
        assert table._tx_depth == 1
    t.join(10)
    assert errors == []
    assert seen == ["a"], "the other thread entered only after our commit"
    assert _xs(table) == ["a", "b"]


def test_dropped_transaction_rolls_back_and_frees_the_writer(table: honker.Database) -> None:
    guard = table.transaction()
    tx = guard.__enter__()  # never exited
    tx.execute("INSERT INTO t VALUES (1)")
    del guard, tx
    gc.collect()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with table.transaction() as tx2:
                tx2.execute("INSERT INTO t VALUES (2)")
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert not t.is_alive(), "the writer slot was not released"
    assert errors == []
    assert _xs(table) == [2]


def test_depth_is_per_thread(db: honker.Database) -> None:
    depths: list[int] = []
    with db.transaction():
        t = threading.Thread(target=lambda: depths.append(db._tx_depth))
        t.start()
        t.join()
    assert depths == [0]


ROW_RETURNING = {
    "sqlite": ("SELECT notify('c', '1')", "PRAGMA user_version"),
    "postgres": ("SHOW search_path", "VALUES (1)"),
}


def test_execute_rejects_row_returning_statements(table: honker.Database, backend: str) -> None:
    for sql in ("SELECT 1", "INSERT INTO t VALUES (1) RETURNING x", *ROW_RETURNING[backend]):
        with pytest.raises(RuntimeError) as info:
            with table.transaction() as tx:
                tx.execute(sql)
        assert str(info.value) == EXECUTE_RETURNED
    assert _xs(table) == []


SETTINGS = {  # (set, read, the row read)
    "sqlite": ("PRAGMA user_version = 7", "PRAGMA user_version", {"user_version": 7}),
    "postgres": (
        "SET LOCAL application_name = 'x7'",
        "SHOW application_name",
        {"application_name": "x7"},
    ),
}


def test_query_runs_dml_ddl_and_pragmas(table: honker.Database, backend: str) -> None:
    setting, read, row = SETTINGS[backend]
    with table.transaction() as tx:
        assert tx.query("INSERT INTO t VALUES (5) RETURNING x, x + 1 AS y") == [{"x": 5, "y": 6}]
        assert tx.query("CREATE TABLE u (y INTEGER)") == []
        assert tx.query("UPDATE t SET x = 6") == []
        assert tx.query(setting) == []
        assert tx.query(read) == [row]
    assert _xs(table) == [6]


@pytest.mark.sqlite_only(
    reason="PostgreSQL's simple query protocol runs several statements given without "
    "parameters (docs/postgres.md)"
)
def test_one_statement_only(table: honker.Database) -> None:
    with pytest.raises(RuntimeError):
        with table.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
    assert _xs(table) == []


def test_transaction_not_started_after_exit(db: honker.Database) -> None:
    with db.transaction() as tx:
        pass
    for call in (
        lambda: tx.execute("SELECT 1"),
        lambda: tx.query("SELECT 1"),
        lambda: tx.notify("c", 1),
        lambda: tx.bootstrap_honker_schema(),
    ):
        with pytest.raises(RuntimeError, match=r"^Transaction not started$"):
            call()


def test_the_guard_itself_has_no_statements(db: honker.Database) -> None:
    guard = db.transaction()
    assert not hasattr(guard, "execute")
    assert not hasattr(guard, "query")


def test_notify_stores_json_text_and_returns_the_id(db: honker.Database) -> None:
    with db.transaction() as tx:
        ids = [
            tx.notify("c", "x"),
            tx.notify("c", {"a": 1, "b": [1, 2]}),
            tx.notify("c", None),
            tx.notify("c", (1, "é")),
            tx.notify("c", {1: True}),
        ]
    assert ids == sorted(ids) and len(set(ids)) == 5
    rows = db.query("SELECT id, channel, payload FROM _honker_notifications ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert [r["payload"] for r in rows] == [
        '"x"',
        '{"a": 1, "b": [1, 2]}',
        "null",
        '[1, "\\u00e9"]',
        '{"1": true}',
    ]


def test_notify_rolls_back_and_rejects_unserialisable_payloads(db: honker.Database) -> None:
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            tx.notify("c", 1)
            1 / 0  # noqa: B018
    with pytest.raises(TypeError):
        with db.transaction() as tx:
            tx.notify("c", object())
    assert db.query("SELECT count(*) AS n FROM _honker_notifications") == [{"n": 0}]


def test_db_query_does_not_see_uncommitted_writes(table: honker.Database) -> None:
    with table.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        assert tx.query("SELECT x FROM t") == [{"x": 1}]
        assert _xs(table) == []
    assert _xs(table) == [1]


def test_db_query_is_not_read_only(db: honker.Database) -> None:
    # Not intended usage, but honker's readers are read-write autocommit connections.
    assert db.query("CREATE TABLE side (x INTEGER)") == []
    assert db.query("INSERT INTO side VALUES (1) RETURNING x") == [{"x": 1}]
    with db.transaction() as tx:
        assert tx.query("SELECT x FROM side") == [{"x": 1}]


@pytest.mark.sqlite_only(reason="slice 6: honker's SQL functions on PostgreSQL")
def test_honker_functions_exist_only_on_the_writer(db: honker.Database) -> None:
    for sql in ("SELECT notify('c', '1')", "SELECT honker_bootstrap()"):
        with pytest.raises(RuntimeError, match=r"no such function"):
            db.query(sql)
    with db.transaction() as tx:
        assert tx.query("SELECT honker_bootstrap() AS r") == [{"r": 1}]


@pytest.mark.sqlite_only(reason="reads sqlite_master; tests/postgres/ covers migrations")
def test_bootstrap_is_idempotent(db: honker.Database) -> None:
    before = db.query("SELECT name, sql FROM sqlite_master ORDER BY rowid")
    with db.transaction() as tx:
        tx.bootstrap_honker_schema()
        tx.bootstrap_honker_schema()
    assert db.query("SELECT name, sql FROM sqlite_master ORDER BY rowid") == before


@pytest.mark.sqlite_only(reason="SQLite's write lock and busy timeout")
def test_begin_fails_when_another_connection_holds_the_lock(
    table: honker.Database, db_path: str
) -> None:
    with table.transaction() as tx:
        tx.query("PRAGMA busy_timeout = 50")  # keep the test fast; honker waits 5 s
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(RuntimeError, match=r"database is locked") as info:
            with table.transaction():
                pass
        assert not isinstance(info.value, sqlite3.Error)
        assert table._tx_depth == 0
        other.execute("ROLLBACK")
    finally:
        other.close()
    with table.transaction() as tx:  # the slot was released
        tx.execute("INSERT INTO t VALUES (1)")
    assert _xs(table) == [1]
