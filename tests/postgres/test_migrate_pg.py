"""``honker migrate`` with PostgreSQL at one end: a file from the demo moved to
a server and drained there by worker processes; the way back (PostgreSQL to
a file) gives the same rows; a password in the URL is never printed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from helpers import REPO, spawn_child, wait_until
from migrate_support import DUMPS, dump

import honker
from honker.__main__ import main

DRAIN = textwrap.dedent(
    """
    import asyncio, sys
    import honker

    async def main():
        db = honker.open(sys.argv[1])
        q = db.queue("demo")
        print("ready", flush=True)
        async for job in q.claim(sys.argv[2], idle_poll_s=0.5):
            with db.transaction() as tx:   # the effect and the ack commit together
                tx.execute("INSERT INTO drained (job_id, worker) VALUES (%s, %s)",
                           [job.id, sys.argv[2]])
                q.ack(job.id, job.worker_id, tx=tx)

    asyncio.run(main())
    """
)


def _demo_file(tmp_path: Path) -> str:
    path = tmp_path / "demo.db"
    subprocess.run(
        [sys.executable, "examples/demo.py", "--db", str(path), "--jobs", "300", "--rate", "3000"],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return str(path)


def test_a_demo_file_moves_to_postgres_and_drains_there(tmp_path: Path, pg_url: str) -> None:
    source = _demo_file(tmp_path)
    db = honker.open(source)
    backlog = [db.queue("demo").enqueue({"n": 10_000 + i}) for i in range(200)]
    dead_before = dump(db)["dead"]
    db.close()
    assert dead_before, "the demo leaves dead letters"

    report = honker.migrate(source, pg_url)
    assert report.source["jobs"] == len(backlog) and report.target == report.source

    pg = honker.open(pg_url)
    try:
        pg.query("CREATE TABLE drained (job_id bigint PRIMARY KEY, worker text NOT NULL)")
        workers = [spawn_child(DRAIN, pg_url, f"w{i}") for i in range(2)]
        wait_until(lambda: pg.queue("demo").stats()["pending"] == 0, timeout=60)
        wait_until(
            lambda: pg.query("SELECT count(*) AS n FROM drained")[0]["n"] == len(backlog),
            timeout=60,
        )
        for child in workers:
            child.kill()
        drained = [r["job_id"] for r in pg.query("SELECT job_id FROM drained ORDER BY job_id")]
        assert drained == sorted(backlog)  # every job once (job_id is the key), none lost
        assert dump(pg)["jobs"] == []
        assert dump(pg)["dead"] == dead_before
    finally:
        pg.close()


def test_there_and_back_keeps_every_row(tmp_path: Path, pg_url: str) -> None:
    source = str(tmp_path / "a.db")
    db = honker.open(source)
    q = db.queue("q")
    for i in range(50):
        q.enqueue({"i": i, "s": "ünïcode"}, priority=i % 4, delay=(i % 5) * 60)
    for _ in range(5):
        job = q.claim_one("w")
        assert job is not None and job.fail("x" * 10_000)
    db.stream("t").publish({"e": 1})
    db.stream("t").save_offset("c", 1)
    before = dump(db)
    db.close()
    honker.migrate(source, pg_url, batch=7)
    back = str(tmp_path / "b.db")
    honker.migrate(pg_url, back, batch=7)
    db = honker.open(back)
    try:
        assert dump(db) == before
        assert set(DUMPS) == set(before)
    finally:
        db.close()


def test_the_password_in_a_url_is_never_printed(
    tmp_path: Path, pg_server: Any, schema: str, capsys: Any
) -> None:
    source = str(tmp_path / "a.db")
    honker.open(source).close()
    user = pg_server.user
    url = pg_server.url(schema=schema).replace(f"://{user}@", f"://{user}:Sup3rSecret@", 1)
    for argv in (["migrate", source, url, "--dry-run"], ["migrate", url, url + "x"]):
        main(argv)
        out, err = capsys.readouterr()
        assert "Sup3rSecret" not in out + err
