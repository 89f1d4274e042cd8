"""honker.open(), connection PRAGMAs, watcher options and Database.close()
(docs/spec/python-api.md §3.1, §4.1, §7.2, sharp edge 23; docs/spec/engine.md §1, §8.3)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from helpers import honker_threads, open_fds, wait_until, within

import honker
from honker._errors import DatabaseError, HonkerError

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 1,
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "cache_size": -32000,
    "temp_store": 2,
    "wal_autocheckpoint": 10000,
}

WATCHER_DIED = (
    "honker: update watcher died (database file likely replaced; recreate honker.open() to recover)"
)


def _pragma(run, name: str):
    (row,) = run(f"PRAGMA {name}")
    (value,) = row.values()
    return value


# -- PRAGMAs ------------------------------------------------------------------


def test_pragmas_on_the_writer_inside_a_transaction(db: honker.Database) -> None:
    with db.transaction() as tx:
        got = {name: _pragma(tx.query, name) for name in PRAGMAS}
    assert got == PRAGMAS


def test_pragmas_on_reader_connections(open_db, db_path: str) -> None:
    db = open_db(db_path, max_readers=2)
    assert {name: _pragma(db.query, name) for name in PRAGMAS} == PRAGMAS


def test_wal_mode_persists_in_the_file(db: honker.Database, db_path: str) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


# -- arguments ----------------------------------------------------------------


def test_open_creates_a_missing_file(db_path: str, open_db) -> None:
    assert not os.path.exists(db_path)
    open_db(db_path)
    assert os.path.exists(db_path)


def test_path_must_be_a_str(db_path: str) -> None:
    with pytest.raises(TypeError):
        honker.open(Path(db_path))
    assert not os.path.exists(db_path)


def test_file_uri_is_accepted(tmp_path: Path, open_db) -> None:
    db = open_db(f"file:{tmp_path / 'u.db'}")
    db.queue("q").enqueue(1)
    assert (tmp_path / "u.db").exists()
    assert db.query("SELECT count(*) AS n FROM _honker_live") == [{"n": 1}]


@pytest.mark.parametrize("backend", [None, "polling", "poll"])
def test_standard_backend_names(db_path: str, open_db, backend: str | None) -> None:
    db = open_db(db_path, watcher_backend=backend)
    assert not honker_threads(), "the watcher starts lazily"
    db.update_events()
    assert len(honker_threads()) == 1


FEATURE_BACKENDS = [
    ("kernel", "watcher backend 'kernel' requires the kernel-watcher Cargo feature"),
    ("kernel-watcher", "watcher backend 'kernel' requires the kernel-watcher Cargo feature"),
    ("shm", "watcher backend 'shm' requires the shm-fast-path Cargo feature"),
    ("shm-fast-path", "watcher backend 'shm' requires the shm-fast-path Cargo feature"),
]


@pytest.mark.parametrize(("backend", "message"), FEATURE_BACKENDS)
async def test_feature_backends_work_or_say_why_not(
    db_path: str, open_db, backend: str, message: str
) -> None:
    # honker builds without these features reject them with exactly this
    # text (its tests skip on "requires the"); a build that has them must
    # deliver wakes, never silently fall back.
    try:
        db = open_db(db_path, watcher_backend=backend)
    except ValueError as exc:
        assert str(exc) == message
        return
    updates = db.update_events()
    with db.transaction() as tx:
        tx.notify("c", 1)
    await within(anext(updates), 5)


@pytest.mark.parametrize(
    "backend", ["KERNEL", " polling ", "Polling", "", "inotify", "shm ", "kernel_watcher"]
)
def test_unknown_backend_names_are_rejected(db_path: str, backend: str) -> None:
    with pytest.raises(ValueError) as info:
        honker.open(db_path, watcher_backend=backend)
    shown = '"' + backend + '"'
    assert str(info.value) == (
        f"unknown watcher backend {shown}; valid: None, 'polling', 'kernel', 'shm'"
    )
    assert isinstance(info.value, HonkerError)


def test_zero_poll_interval_is_rejected(db_path: str) -> None:
    with pytest.raises(ValueError, match=r"^watcher poll interval must be positive$"):
        honker.open(db_path, watcher_poll_interval_ms=0)


async def test_custom_poll_interval_still_wakes(db_path: str, open_db) -> None:
    db = open_db(db_path, watcher_poll_interval_ms=20)
    updates = db.update_events()
    with db.transaction() as tx:
        tx.notify("c", 1)
    await within(anext(updates), 5)


def test_max_readers_below_one_behaves_as_one(db_path: str, open_db) -> None:
    db = open_db(db_path, max_readers=0)
    assert db.query("SELECT 1 AS one") == [{"one": 1}]
    assert db.query("SELECT 2 AS two") == [{"two": 2}]


def test_all_four_parameters_are_positional(db_path: str, open_db) -> None:
    db = open_db(db_path, 2, "polling", 5)
    assert db.query("SELECT 1 AS x") == [{"x": 1}]


# -- failures carry SQLite's text ---------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"unable to open database file") as info:
        honker.open(str(tmp_path / "nope" / "t.db"))
    assert isinstance(info.value, DatabaseError)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite " * 512)
    with pytest.raises(RuntimeError, match=r"file is not a database"):
        honker.open(str(path))


def test_read_only_database(db_path: str, open_db) -> None:
    # Tests run as root, which ignores file modes; a read-only URI is the
    # portable way to get SQLite's read-only errors.
    honker.open(db_path).close()
    db = open_db(f"file:{db_path}?mode=ro")  # schema exists: open itself writes nothing
    with pytest.raises(RuntimeError, match=r"attempt to write a readonly database") as info:
        db.queue("q").enqueue(1)
    assert isinstance(info.value, HonkerError)
    assert not isinstance(info.value, sqlite3.Error)


def test_read_only_database_without_schema(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(RuntimeError, match=r"readonly database"):
        honker.open(f"file:{tmp_path / 'empty.db'}?mode=ro")


def test_failed_open_leaks_nothing(tmp_path: Path) -> None:
    fds = open_fds()
    path = tmp_path / "garbage.db"
    path.write_bytes(b"x" * 8192)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            honker.open(str(path))
    assert open_fds() <= fds
    assert not honker_threads()


# -- the public surface ---------------------------------------------------------


def test_public_names() -> None:
    assert sorted(honker.__all__) == sorted(
        [
            "CronSchedule", "Database", "Event", "Job", "LeadershipLost", "Listener",
            "LockHeld", "Notification", "Outbox", "Queue", "Retryable", "Scheduler",
            "Stream", "TaskResult", "UnknownTaskError", "EXTENSION_ENTRYPOINT", "crontab",
            "every_s", "extension_info", "load_extension", "open", "registry", "run_workers",
        ]
    )  # fmt: skip
    assert not hasattr(honker, "__version__")


def test_compatibility_modules() -> None:
    from honker import _honker, _honker_native

    assert (
        _honker.DEFAULT_VISIBILITY_TIMEOUT_S,
        _honker.DEFAULT_MAX_ATTEMPTS,
        _honker.DEFAULT_OUTBOX_MAX_ATTEMPTS,
        _honker.DEFAULT_OUTBOX_BASE_BACKOFF_S,
        _honker.DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S,
    ) == (300, 3, 5, 5, 60)
    for name in ("open", "cron_next_after", "Database", "Transaction", "UpdateEvents"):
        assert hasattr(_honker_native, name), name
    assert _honker_native.open is honker.open


def test_database_is_not_a_context_manager(db: honker.Database) -> None:
    assert not hasattr(db, "__enter__")
    assert not hasattr(db, "__exit__")


def test_two_opens_of_one_file_have_two_watchers(db_path: str, open_db) -> None:
    a, b = open_db(db_path), open_db(db_path)
    assert not honker_threads(), "the watcher starts lazily"
    a.update_events()
    a.update_events()
    assert len(honker_threads()) == 1, "one watcher per Database, shared by subscriptions"
    b.update_events()
    assert len(honker_threads()) == 2


# -- close() ------------------------------------------------------------------


def test_close_is_idempotent_and_later_use_fails(db_path: str) -> None:
    db = honker.open(db_path)
    db.close()
    db.close()
    db._inner.close()
    with pytest.raises(RuntimeError, match=r"^Database is closed$"):
        with db.transaction():
            pass
    with pytest.raises(RuntimeError, match=r"Database is closed"):
        db.query("SELECT 1")


def test_close_releases_threads_and_descriptors(db_path: str) -> None:
    fds = open_fds()
    db = honker.open(db_path)
    q = db.queue("q")
    q.enqueue({"n": 1})
    db.update_events()
    db.query("SELECT 1")
    assert honker_threads()
    db.close()
    assert not honker_threads(), "close() joins the watcher thread"
    assert open_fds() <= fds


def test_close_while_another_thread_holds_the_writer(db_path: str) -> None:
    import threading

    db = honker.open(db_path)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with db.transaction() as tx:
                tx.execute("CREATE TABLE t (x)")
                tx.execute("INSERT INTO t VALUES (1)")
                inside.set()
                release.wait(10)
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    wait_until(inside.is_set)
    db.close()
    release.set()
    t.join(10)
    assert errors == []
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)], "the open tx committed"
    finally:
        conn.close()


async def test_close_kills_waiting_claim_and_listen_iterators(db: honker.Database) -> None:
    q = db.queue("q")
    claims = q.claim("w", idle_poll_s=None)
    listener = db.listen("ch", fallback_poll_s=None)
    claim_task = asyncio.create_task(anext(claims))
    listen_task = asyncio.create_task(anext(listener))
    await asyncio.sleep(0)  # both run their first read and block on the watcher
    assert not claim_task.done() and not listen_task.done()
    db.close()
    for task in (claim_task, listen_task):
        with pytest.raises(RuntimeError) as info:
            await within(task, 5)
        assert str(info.value) == WATCHER_DIED
