"""Many processes on one database, and what happens when the lock cannot be had.

- 8 producer processes (one enqueue per transaction) and 8 worker processes
  start at the same instant: no busy error reaches any of them, and every
  job is done exactly once (each worker acks inside the transaction that
  records the job done: ``job.ack(tx=tx)``). On both backends.
- A raw ``sqlite3`` connection in another process holds ``BEGIN IMMEDIATE``
  past the 5 s busy timeout: ``enqueue`` raises ``BusyError`` (a
  ``RuntimeError``) with SQLite's message after waiting the whole timeout,
  nothing is half-written, and the next call works once the lock is free.
  (SQLite's write lock: SQLite only.)
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from helpers import spawn_child, wait_until
from rel_support import intact, integrity

import honker
from honker._errors import BusyError, DatabaseError, HonkerError

PRODUCERS = 8
WORKERS = 8
PER_PRODUCER = 250

# Waits for "go" so that every process starts at the same instant; any
# exception is printed as "error <type>: <message>" and fails the test.
PRODUCER = """
import sys, traceback
import honker

db = honker.open(sys.argv[1])
q = db.queue("work")
print("ready", flush=True)
sys.stdin.readline()
try:
    for i in range(int(sys.argv[3])):
        q.enqueue({"p": int(sys.argv[2]), "i": i})
except BaseException as exc:
    print(f"error {type(exc).__name__}: {exc}", flush=True)
    raise
print("produced", flush=True)
sys.stdin.readline()
"""

WORKER = """
import asyncio, sys, threading
import honker

db = honker.open(sys.argv[1])
q = db.queue("work")
wid = "w" + sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()

async def main():
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(
        target=lambda: (sys.stdin.readline(), loop.call_soon_threadsafe(stop.set)), daemon=True
    ).start()
    jobs = q.claim(wid, idle_poll_s=0.2)
    while not stop.is_set():
        nxt = asyncio.create_task(anext(jobs))  # asyncio.wait takes tasks, not coroutines
        halt = asyncio.ensure_future(stop.wait())
        await asyncio.wait([nxt, halt], return_when=asyncio.FIRST_COMPLETED)
        halt.cancel()
        if not nxt.done():
            nxt.cancel()
            break
        job = nxt.result()
        with db.transaction() as tx:
            if job.ack(tx=tx):
                tx.execute("INSERT INTO done (job_id) VALUES (?)", [job.id])
    jobs.close()

try:
    asyncio.run(main())
except BaseException as exc:
    print(f"error {type(exc).__name__}: {exc}", flush=True)
    raise
db.close()
print("stopped", flush=True)
"""


@pytest.mark.timeout(120)
def test_eight_producers_and_eight_workers_never_see_busy(
    db: honker.Database, db_path: str, backend: str
) -> None:
    db.queue("work")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE done (job_id INTEGER NOT NULL)")
    producers = [spawn_child(PRODUCER, db_path, p, PER_PRODUCER) for p in range(PRODUCERS)]
    workers = [spawn_child(WORKER, db_path, w) for w in range(WORKERS)]
    started = time.monotonic()
    for child in producers + workers:
        child.send("go")
    for child in producers:
        line = child.readline(timeout=60)
        assert line == "produced", f"{line}\n{child.stderr}"
    total = PRODUCERS * PER_PRODUCER
    wait_until(
        lambda: db.query("SELECT COUNT(*) AS n FROM done")[0]["n"] >= total,
        timeout=60,
        message="every job done",
    )
    elapsed = time.monotonic() - started
    for child in producers + workers:
        child.send("stop")
    for child in workers:
        line = child.readline(timeout=20)
        assert line == "stopped", f"{line}\n{child.stderr}"
    for child in producers + workers:
        child.wait(timeout=20)
        assert "locked" not in child.stderr and "Busy" not in child.stderr, child.stderr

    print(f"\n{total} jobs through {PRODUCERS}+{WORKERS} processes in {elapsed:.1f}s")
    done = db.query("SELECT COUNT(*) AS n, COUNT(DISTINCT job_id) AS d FROM done")[0]
    assert done == {"n": total, "d": total}
    assert db.query("SELECT COUNT(*) AS n FROM _honker_live")[0]["n"] == 0
    assert db.query("SELECT COUNT(*) AS n FROM _honker_dead")[0]["n"] == 0
    assert intact(backend, db, db_path)


# Holds SQLite's write lock (BEGIN IMMEDIATE plus a write) on a plain sqlite3
# connection until told to roll back.
LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO _honker_locks (name, owner, expires_at) VALUES ('held', 'x', 0)")
print("ready", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
sys.stdin.readline()
"""


@pytest.mark.timeout(60)
@pytest.mark.sqlite_only(reason="SQLite's write lock held by a plain sqlite3 connection")
def test_write_lock_held_past_busy_timeout_raises_busy_error(
    db: honker.Database, db_path: str
) -> None:
    q = db.queue("q")
    q.enqueue("before")
    holder = spawn_child(LOCK_HOLDER, db_path)
    started = time.monotonic()
    with pytest.raises(BusyError) as info:
        q.enqueue("during")
    waited = time.monotonic() - started
    err = info.value
    assert isinstance(err, RuntimeError) and isinstance(err, DatabaseError)
    assert isinstance(err, HonkerError) and not isinstance(err, sqlite3.Error)
    assert str(err) == "database is locked"  # SQLite's own message
    assert err.sqlite_errorname == "SQLITE_BUSY"
    assert 4.5 <= waited < 10, f"waited {waited:.2f}s; the busy timeout is 5 s"

    # Nothing half-written; the writer slot was released (the enqueue below works).
    rows = db.query("SELECT payload FROM _honker_live ORDER BY id")
    assert [r["payload"] for r in rows] == ['"before"']
    holder.send("release")
    holder.expect("released")
    q.enqueue("after")
    rows = db.query("SELECT payload FROM _honker_live ORDER BY id")
    assert [r["payload"] for r in rows] == ['"before"', '"after"']
    assert db.query("SELECT COUNT(*) AS n FROM _honker_locks WHERE name = 'held'")[0]["n"] == 0
    holder.kill()
    assert integrity(db_path) == "ok"
