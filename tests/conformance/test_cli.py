"""The command line (docs/spec/python-api.md §17): argument handling, ``worker --list``,
target errors, and the read-only inspection subcommands.

``main()`` runs in-process here; the worker's signal handling and the real
child process are in tests/conformance/multiprocess/test_cli_worker.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import honker
from honker.backends import is_postgres

Run = Callable[..., tuple[int, str, str]]


pytestmark = pytest.mark.usefixtures("clean_registry")


@pytest.fixture
def make_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_path: str
) -> Iterator[Callable[[str], str]]:
    """``make_module(source) -> module name``: an importable module in tmp_path.

    ``CLI_TEST_DB`` names the backend's database target (a file, or a
    PostgreSQL URL) the source may open; any Database it binds to ``db`` is
    closed and the module forgotten when the test ends.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CLI_TEST_DB", db_path)
    names: list[str] = []

    def _make(source: str) -> str:
        name = f"cli_tasks_{len(names)}_{abs(hash(str(tmp_path))) % 10**8}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield _make
    for name in names:
        module = sys.modules.pop(name, None)
        db = getattr(module, "db", None)
        if isinstance(db, honker.Database):
            db.close()


TASKS = """\
import os
import honker

db = honker.open(os.environ["CLI_TEST_DB"])

@db.task(queue="mail")
def send(to):
    return to

@db.task(name="custom.name")
async def other():
    return None
"""


# -- argument handling ----------------------------------------------------------------


def test_no_subcommand_is_a_usage_error(run: Run) -> None:
    status, _out, err = run()
    assert status == 2
    assert err.startswith("usage: python -m honker")
    assert "required: COMMAND" in err


@pytest.mark.parametrize("command", ["worker", "queues", "dead", "streams", "schedules"])
def test_every_subcommand_has_help(run: Run, command: str) -> None:
    status, out, _ = run(command, "--help")
    assert status == 0
    assert out.startswith(f"usage: python -m honker {command}")


def test_top_level_help_lists_the_subcommands(run: Run) -> None:
    status, out, _ = run("--help")
    assert status == 0
    for command in ("worker", "queues", "dead", "streams", "schedules"):
        assert command in out


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_concurrency_must_be_a_positive_int(run: Run, value: str) -> None:
    status, _, err = run("worker", "x:db", "--concurrency", value)
    assert status == 2
    assert "expected a positive integer" in err


# -- worker: loading the target -------------------------------------------------------


def test_worker_list_prints_the_registered_tasks(
    run: Run, make_module: Callable[[str], str]
) -> None:
    mod = make_module(TASKS)
    status, out, err = run("worker", f"{mod}:db", "--list")
    assert (status, err) == (0, "")
    assert out == (
        f"Registered tasks on {mod}:db:\n"
        f"  {mod}.send  queue=mail\n"  # names sorted: "cli_tasks_..." < "custom.name"
        "  custom.name  queue=default\n"
    )


def test_worker_without_tasks_exits_1(run: Run, make_module: Callable[[str], str]) -> None:
    mod = make_module(
        """
        import os
        import honker
        db = honker.open(os.environ["CLI_TEST_DB"])
        """
    )
    status, out, err = run("worker", f"{mod}:db")
    assert (status, out) == (1, "")
    assert err == (
        f"No @task-decorated functions found in {mod}:db. "
        "Make sure the module you import actually registers tasks.\n"
    )


def test_target_without_colon_exits_2(run: Run) -> None:
    status, out, err = run("worker", "just.a.module")
    assert (status, out) == (2, "")
    assert err == (
        "honker worker: error: target must be 'module.path:variable', got 'just.a.module'\n"
    )


def test_target_module_that_does_not_exist_exits_1(run: Run) -> None:
    status, _, err = run("worker", "no_such_module_for_honker_cli:db")
    assert status == 1
    assert "cannot import module 'no_such_module_for_honker_cli'" in err
    assert "Traceback" not in err


def test_target_attribute_missing_exits_1(run: Run, make_module: Callable[[str], str]) -> None:
    mod = make_module(TASKS)
    status, _, err = run("worker", f"{mod}:nope")
    assert status == 1
    assert err == f"honker worker: error: {mod} has no attribute 'nope'\n"


def test_target_module_raising_at_import_exits_1_without_a_traceback(
    run: Run, make_module: Callable[[str], str]
) -> None:
    mod = make_module(
        """
        import nonexistent_dependency_for_honker_cli
        """
    )
    status, _, err = run("worker", f"{mod}:db")
    assert status == 1
    assert f"importing '{mod}' failed: ModuleNotFoundError" in err
    assert "Traceback" not in err
    mod = make_module(
        """
        raise RuntimeError("settings missing")
        """
    )
    status, _, err = run("worker", f"{mod}:db")
    assert status == 1
    assert f"importing '{mod}' failed: RuntimeError: settings missing (" in err
    assert err.endswith(f"{mod}.py:2)\n")
    mod = make_module(
        """
        def broken(:
        """
    )
    status, _, err = run("worker", f"{mod}:db")
    assert status == 1
    assert f"importing '{mod}' failed: SyntaxError: " in err
    assert "frozen" not in err and "Traceback" not in err


def test_target_that_is_not_a_database_exits_1(run: Run, make_module: Callable[[str], str]) -> None:
    mod = make_module(TASKS + "\nnumber = 3\n")
    status, _, err = run("worker", f"{mod}:number")
    assert status == 1
    assert err == f"honker worker: error: {mod}:number is a int, not a honker.Database\n"


# -- inspection -----------------------------------------------------------------------


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(target: str) -> str:
    """What inspecting must leave as it is: a SQLite file's bytes; on
    PostgreSQL, the schema's tables and every row with its ``xmin`` (a write,
    even one that leaves a row's values as they were, gives the row a new one)."""
    if not is_postgres(target):
        return digest(target)
    import psycopg

    from honker.backends.postgres.config import parse

    cfg = parse(target, 1)
    found = hashlib.sha256()
    with psycopg.connect(cfg.conninfo, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1",
            [cfg.schema],
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(
                f"SELECT xmin::text, t::text FROM {cfg.schema}.{table} t ORDER BY 2, 1"
            ).fetchall()
            found.update(repr((table, rows)).encode())
    return found.hexdigest()


@pytest.fixture
def prepared(db_path: str, open_db: Callable[..., honker.Database]) -> dict[str, Any]:
    """A closed database with queues and dead letters."""
    db = open_db(db_path)
    emails = db.queue("emails")
    processing = emails.enqueue({"n": 1})
    assert emails.claim_one("w1") is not None
    emails.enqueue({"n": 2})  # pending, due
    failed = emails.enqueue({"n": 3}, priority=5)
    job = emails.claim_one("w1")
    assert job is not None and job.id == failed
    job.fail("smtp down\nTraceback: details")
    emails.enqueue({"n": 4}, delay=3600)  # delayed
    reports = db.queue("reports")
    boom = reports.enqueue("r")
    rjob = reports.claim_one("w2")
    assert rjob is not None
    rjob.fail("boom")
    db.close()
    return {
        "path": db_path,
        "ids": {"processing": processing, "failed": failed, "boom": boom},
    }


@pytest.fixture
def prepared_streams(db_path: str, open_db: Callable[..., honker.Database]) -> dict[str, Any]:
    """A closed database with streams and schedules."""
    db = open_db(db_path)
    orders, audit = db.stream("orders"), db.stream("audit")
    orders.publish({"o": 1})
    audit.publish({"a": 1})
    orders.publish({"o": 2})
    orders.publish({"o": 3})
    rows = db.query('SELECT "offset" FROM _honker_stream ORDER BY "offset"')
    offsets = [r["offset"] for r in rows]
    orders.save_offset("billing", offsets[0])
    orders.save_offset("shipping", offsets[3])

    schedules: dict[str, int] = {}
    try:
        from honker._scheduler import Scheduler
    except ImportError:
        pass
    else:
        sched = Scheduler(db)
        sched.add(name="nightly", queue="reports", schedule=honker.crontab("0 3 * * *"))
        sched.add(name="poll", queue="emails", schedule=honker.every_s(30))
        sched.pause("poll")
        for row in db.query("SELECT name, next_fire_at FROM _honker_scheduler_tasks"):
            schedules[row["name"]] = row["next_fire_at"]
    db.close()
    return {"path": db_path, "offsets": offsets, "schedules": schedules}


def test_queues_table_and_json(run: Run, prepared: dict[str, Any]) -> None:
    path = prepared["path"]
    before = fingerprint(path)
    status, out, err = run("queues", path)
    assert (status, err) == (0, "")
    assert out == (
        "QUEUE    PENDING  PROCESSING  DELAYED  DEAD\n"
        "emails         1           1        1     1\n"
        "reports        0           0        0     1\n"
    )
    status, out, _ = run("queues", path, "--json")
    assert status == 0
    assert json.loads(out) == [
        {"queue": "emails", "pending": 1, "processing": 1, "delayed": 1, "dead": 1},
        {"queue": "reports", "pending": 0, "processing": 0, "delayed": 0, "dead": 1},
    ]
    assert run("dead", path, "emails")[0] == 0
    assert run("metrics", path)[0] == 0
    assert fingerprint(path) == before


def test_dead_table_and_json(run: Run, prepared: dict[str, Any]) -> None:
    path = prepared["path"]
    failed = prepared["ids"]["failed"]
    status, out, err = run("dead", path, "emails")
    assert (status, err) == (0, "")
    header, row = out.splitlines()
    assert header.split() == ["ID", "ATTEMPTS", "DIED_AT", "LAST_ERROR"]
    died_at = json.loads(run("dead", path, "emails", "--json")[1])[0]["died_at"]
    local = datetime.fromtimestamp(died_at).strftime("%Y-%m-%d %H:%M:%S")
    assert row.split() == [str(failed), "1", *local.split(), "smtp", "down"]
    assert len(row) == len(header.rstrip()) - len("LAST_ERROR") + len("smtp down")
    status, out, _ = run("dead", path, "emails", "--json")
    [entry] = json.loads(out)
    assert entry == {
        "id": failed,
        "queue": "emails",
        "attempts": 1,
        "max_attempts": 3,
        "died_at": died_at,
        "died_at_local": local,
        "last_error": "smtp down\nTraceback: details",
        "payload": '{"n": 3}',
    }
    assert run("dead", path, "nobody") == (0, "(no dead jobs in queue 'nobody')\n", "")


def test_dead_limit(run: Run, db_path: str, open_db: Callable[..., honker.Database]) -> None:
    db = open_db(db_path)
    q = db.queue("q")
    for i in range(5):
        q.enqueue(i)
        job = q.claim_one("w")
        assert job is not None
        job.fail(f"error {i}")
    db.close()
    status, out, _ = run("dead", db_path, "q", "--limit", "2", "--json")
    assert status == 0
    assert [e["last_error"] for e in json.loads(out)] == ["error 4", "error 3"]


def test_streams_table_and_json(run: Run, prepared_streams: dict[str, Any]) -> None:
    path = prepared_streams["path"]
    o1, a1, _o2, o3 = prepared_streams["offsets"]
    status, out, _ = run("streams", path, "--json")
    assert status == 0
    assert json.loads(out) == [
        {"topic": "audit", "consumer": None, "offset": 0, "max_offset": a1, "lag": 1},
        {"topic": "orders", "consumer": "billing", "offset": o1, "max_offset": o3, "lag": 2},
        {"topic": "orders", "consumer": "shipping", "offset": o3, "max_offset": o3, "lag": 0},
    ]
    status, out, _ = run("streams", path)
    assert out.splitlines() == [
        "TOPIC   CONSUMER  OFFSET  MAX_OFFSET  LAG",
        f"audit   -         {0:>6}  {a1:>10}    1",
        f"orders  billing   {o1:>6}  {o3:>10}    2",
        f"orders  shipping  {o3:>6}  {o3:>10}    0",
    ]


def test_schedules_table_and_json(run: Run, prepared_streams: dict[str, Any]) -> None:
    pytest.importorskip("honker._scheduler")
    path = prepared_streams["path"]
    fires = prepared_streams["schedules"]

    def local(unix: int) -> str:
        return datetime.fromtimestamp(unix).strftime("%Y-%m-%d %H:%M:%S")

    status, out, _ = run("schedules", path, "--json")
    assert status == 0
    assert json.loads(out) == [
        {
            "name": "nightly",
            "queue": "reports",
            "cron_expr": "0 3 * * *",
            "enabled": True,
            "next_fire_at": fires["nightly"],
            "next_fire_local": local(fires["nightly"]),
            "priority": 0,
            "expires_s": None,
            "max_attempts": 3,
        },
        {
            "name": "poll",
            "queue": "emails",
            "cron_expr": "@every 30s",
            "enabled": False,
            "next_fire_at": fires["poll"],
            "next_fire_local": local(fires["poll"]),
            "priority": 0,
            "expires_s": None,
            "max_attempts": 3,
        },
    ]
    status, out, _ = run("schedules", path)
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "QUEUE",
        "CRON_EXPR",
        "ENABLED",
        "NEXT_FIRE",
        "NEXT_FIRE_UNIX",
    ]
    assert lines[1].split() == [
        "nightly",
        "reports",
        "0",
        "3",
        "*",
        "*",
        "*",
        "yes",
        *local(fires["nightly"]).split(),
        str(fires["nightly"]),
    ]
    assert lines[2].split() == [
        "poll",
        "emails",
        "@every",
        "30s",
        "no",
        *local(fires["poll"]).split(),
        str(fires["poll"]),
    ]


def test_empty_database_prints_placeholders(run: Run, db_path: str) -> None:
    honker.open(db_path).close()
    assert run("queues", db_path) == (0, "(no queues)\n", "")
    assert run("streams", db_path) == (0, "(no streams)\n", "")
    assert run("schedules", db_path) == (0, "(no schedules)\n", "")
    assert run("queues", db_path, "--json") == (0, "[]\n", "")


@pytest.mark.parametrize("command", [["queues"], ["dead", "q"], ["streams"], ["schedules"]])
def test_missing_file_is_a_clear_error(run: Run, tmp_path: Path, command: list[str]) -> None:
    missing = str(tmp_path / "missing.db")
    name, *rest = command
    status, out, err = run(name, missing, *rest)
    assert (status, out) == (1, "")
    assert err == f"honker {name}: error: no such database file: {missing}\n"
    assert not os.path.exists(missing)


def test_foreign_sqlite_file_is_refused_and_untouched(run: Run, tmp_path: Path) -> None:
    path = str(tmp_path / "other.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = digest(path)
    status, _, err = run("queues", path)
    assert status == 1
    assert err == f"honker queues: error: {path} is not a honker database (no _honker_* tables)\n"
    assert digest(path) == before


def test_garbage_file_is_refused(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    status, _, err = run("streams", str(path))
    assert status == 1
    assert err.startswith(f"honker streams: error: cannot read {path}: ")
    assert path.read_bytes() == b"this is not a database" * 100


@pytest.mark.sqlite_only(
    reason="SQLite's PRAGMA data_version (tests/postgres/test_pg_inspect.py covers PostgreSQL)"
)
def test_inspection_sees_an_open_database_and_does_not_write(
    run: Run, db_path: str, open_db: Callable[..., honker.Database]
) -> None:
    db = open_db(db_path)
    db.queue("live").enqueue(1)
    status, out, _ = run("queues", db_path, "--json")
    assert status == 0
    assert json.loads(out) == [
        {"queue": "live", "pending": 1, "processing": 0, "delayed": 0, "dead": 0}
    ]

    def version() -> Any:  # SQLite counts other connections' commits
        if is_postgres(db_path):
            return fingerprint(db_path)
        return db.query("PRAGMA data_version")[0]["data_version"]

    before = version()
    run("queues", db_path)
    assert version() == before


# -- the installed entry points -------------------------------------------------------


def _console_script() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "honker")
    if not os.access(path, os.X_OK):
        pytest.skip("the honker console script is not installed in this environment")
    return path


def test_console_script_and_module_entry_points(prepared: dict[str, Any]) -> None:
    script = _console_script()
    done = subprocess.run(
        [script, "queues", prepared["path"]], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("QUEUE    PENDING")
    done = subprocess.run([script, "worker", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: honker worker")
    done = subprocess.run(
        [sys.executable, "-m", "honker", "worker", "no_such_module_for_honker_cli:db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "cannot import module" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "honker"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stderr.startswith("usage: python -m honker")
