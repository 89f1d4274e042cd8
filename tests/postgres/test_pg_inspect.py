"""The command line's read-only inspector and management commands on a
PostgreSQL URL: what they refuse, what they never write, what they never print."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest

import honker
from honker.__main__ import main
from honker.backends import open_inspector

SECRET = "s3cr3t-pw"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def _with_password(url: str) -> str:
    # The test server trusts every local connection: any password works.
    return url.replace("postgres@", f"postgres:{SECRET}@", 1) + f"&password={SECRET}"


def test_no_command_prints_the_password(
    pg_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="honker")
    url = _with_password(pg_url)
    db = honker.open(url)
    q = db.queue("mail", max_attempts=1)
    q.enqueue({"user": 1})
    job = q.claim_one("w")
    assert job is not None and job.fail("down")
    db.close()
    seen = ""
    for argv in (
        ["queues", url],
        ["dead", url, "mail"],
        ["metrics", url],
        ["jobs", url, "mail"],
        ["pause", url, "mail"],
        ["requeue", url, "mail", "--all", "--yes"],
    ):
        status, out, err = _run(capsys, *argv)
        assert status == 0, (argv, err)
        seen += out + err
    status, out, err = _run(capsys, "queues", url.replace("/honker_test?", "/no_such_db?", 1))
    assert status == 1 and "cannot open postgresql://postgres:***@" in err
    seen += out + err
    assert SECRET not in seen
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_inspecting_a_missing_schema_creates_nothing(
    pg_server: Any, admin: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_server.url(schema="never_made")
    for argv in (["queues", url], ["metrics", url], ["jobs", url, "q"], ["dashboard", url]):
        status, _, err = _run(capsys, *argv)
        assert status == 1, argv
        assert "has no honker schema 'never_made'" in err, err
    status, _, err = _run(capsys, "queues", pg_server.url(schema="Bad-Name"))
    assert status == 1 and "schema must be lower-case letters" in err
    found = admin.execute(
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'never_made'"
    ).fetchone()
    assert found == (0,)


def test_a_schema_from_before_the_side_tables_is_named(
    db: honker.Database, pg_url: str, schema: str, admin: psycopg.Connection[Any]
) -> None:
    admin.execute(f"DROP TABLE {schema}._honkerpy_paused")
    with pytest.raises(honker.HonkerError, match=r"older honker-py .* open it once"):
        open_inspector(pg_url)


def test_the_inspectors_session_refuses_writes(db: honker.Database, pg_url: str) -> None:
    with open_inspector(pg_url) as inspector:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            inspector._conn.execute("CREATE TABLE written (x int)")


def test_requeue_from_the_command_line_wakes_a_worker(
    db: honker.Database, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    q = db.queue("q", max_attempts=1)
    jid = q.enqueue({"n": 1})
    job = q.claim_one("w")
    assert job is not None and job.fail("boom")
    status, out, _ = _run(capsys, "requeue", pg_url, "q", "--id", str(jid), "--yes", "--json")
    assert (status, json.loads(out)) == (0, {"queue": "q", "requeued": 1})
    again = q.claim_one("w")
    assert again is not None and again.id == jid


def test_overview_counts_stay_fast_at_depth(
    db: honker.Database, admin: psycopg.Connection[Any], schema: str
) -> None:
    """100k jobs in two queues (due, delayed, processing) and 10k dead ones:
    the overview stays well under a second (about 60 ms idle, bench numbers
    in docs/postgres.md); generous here, the test machine is shared."""
    admin.execute(
        f"INSERT INTO {schema}._honker_live (queue, payload, run_at, state) "
        f"SELECT 'q' || (i % 2), '{{}}', {schema}.unixepoch() + (i % 3) * 60, "
        f"CASE WHEN i % 10 = 0 THEN 'processing' ELSE 'pending' END "
        "FROM generate_series(1, 100000) i"
    )
    admin.execute(
        f"INSERT INTO {schema}._honker_dead (id, queue, payload) "
        "SELECT 1000000 + i, 'q' || (i % 2), '{}' FROM generate_series(1, 10000) i"
    )
    admin.execute(f"VACUUM ANALYZE {schema}._honker_live")
    start = time.perf_counter()
    data = db._read(lambda ops: ops.overview())
    took = time.perf_counter() - start
    counts = {q["queue"]: (q["pending"], q["delayed"], q["processing"]) for q in data["queues"]}
    assert sum(sum(c) for c in counts.values()) == 100_000
    assert sum(q["dead"] for q in data["queues"]) == 10_000
    assert took < 2.0, f"overview took {took:.3f} s at 100k jobs"


def test_the_dashboard_announces_the_url_without_its_password(pg_url: str) -> None:
    honker.open(pg_url).close()
    url = _with_password(pg_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "honker", "dashboard", url, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "postgres:***@" in line and "http://127.0.0.1:" in line, line
        assert SECRET not in line
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert SECRET not in err
