"""The -wal file stays bounded under sustained writes and constant readers.

SQLite's automatic checkpoint (``wal_autocheckpoint = 10000`` pages, PASSIVE)
copies only the frames no reader still needs, and the -wal is rewritten from
its start only after a checkpoint got through all of it. With readers always
overlapping the writes that never happens: before the fix in
``FileGuard.bound_wal`` the file grew by ~100 MB a second here with two
processes reading in a loop. The writer now empties an oversized -wal with
TRUNCATE checkpoints (see ``honker.backends.sqlite.fileguard.WAL_TRUNCATE_PAGES``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading

import pytest
from helpers import spawn_child, within
from rel_support import integrity

import honker
from honker.backends.sqlite import connection as _database
from honker.backends.sqlite import fileguard as _fileguard

READER = """
import sys
import honker
db = honker.open(sys.argv[1])
print("ready", flush=True)
while True:
    db.query("SELECT COUNT(*) AS n FROM _honker_live")
"""

PAYLOAD = "x" * 3000


def _limit(db: honker.Database) -> int:
    return db._backend._guard.wal_limit


def _wal_size(path: str) -> int:
    try:
        return os.stat(path + "-wal").st_size
    except FileNotFoundError:
        return 0


@pytest.mark.timeout(120)
async def test_wal_stays_bounded_under_constant_readers(db: honker.Database, db_path: str) -> None:
    """Two processes read in a tight loop while a listener and a stream
    subscriber stay subscribed; several times the bound is written; the -wal
    stays under 3x the truncate threshold (without the fix: ~13x)."""
    q = db.queue("q")
    stream = db.stream("events")
    listener = db.listen("ch")
    events = stream.subscribe(consumer="c")
    readers = [spawn_child(READER, db_path) for _ in range(2)]
    limit = _limit(db)
    seen = {"notes": 0, "events": 0}
    stop = threading.Event()
    sizes: list[int] = []

    def write() -> int:
        commits = 0
        while not stop.is_set() and commits < 20000:
            with db.transaction() as tx:
                q.enqueue(PAYLOAD, tx=tx)
                stream.publish(commits, tx=tx)
                tx.notify("ch", commits)
            commits += 1
            sizes.append(_wal_size(db_path))
        return commits

    async def consume(it, key: str) -> None:
        async for _ in it:
            seen[key] += 1

    consumers = [
        asyncio.create_task(consume(listener, "notes")),
        asyncio.create_task(consume(events, "events")),
    ]
    try:
        commits = await within(asyncio.to_thread(write), 90)
    finally:
        stop.set()
    # A frame is a 4 KiB page plus a header; every commit writes at least two
    # (the payload's overflow page and a leaf): a lower bound of the writes.
    written = commits * 2 * 4096
    top = max(sizes)
    print(
        f"\n{commits} commits, >= {written / 2**20:.0f} MB of WAL frames, "
        f"-wal peaked at {top / 2**20:.0f} MB (threshold {limit / 2**20:.0f} MB); "
        f"listener got {seen['notes']}, subscriber {seen['events']}"
    )
    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    listener.close()
    events.close()
    for r in readers:
        r.kill()
    assert written >= 2 * limit, "not enough was written to prove anything"
    assert top < 3 * limit, f"-wal grew to {top} bytes"
    assert seen["notes"] > 0 and seen["events"] > 0
    assert integrity(db_path) == "ok"


def test_a_long_read_transaction_pins_the_wal_until_it_ends(
    db: honker.Database, db_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An open read transaction (here a raw sqlite3 connection) keeps every
    frame after its snapshot: the -wal must grow past the threshold while it
    is open (SQLite cannot do otherwise), and the writer empties it as soon as
    the reader is done."""
    q = db.queue("q")
    limit = _limit(db)
    reader = sqlite3.connect(db_path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM _honker_live").fetchone()  # snapshot taken
        with caplog.at_level(logging.DEBUG, logger="honker.database"):
            while "could not be emptied" not in caplog.text:
                q.enqueue(PAYLOAD)
                assert _wal_size(db_path) < 4 * limit, "the writer never tried to empty it"
        assert _wal_size(db_path) > limit
    finally:
        reader.execute("COMMIT")
        reader.close()
    # The next check after the retry delay empties the file.
    deadline_commits = 0
    while _wal_size(db_path) > limit:
        q.enqueue(PAYLOAD)
        deadline_commits += 1
        assert deadline_commits < 200_000, "the -wal was never emptied"
    assert _wal_size(db_path) <= limit
    assert integrity(db_path) == "ok"


async def test_pool_readers_listeners_and_subscribers_hold_no_snapshot(
    db: honker.Database, db_path: str
) -> None:
    """Between calls nothing of ours keeps a read transaction open, so a
    TRUNCATE checkpoint from another connection gets through at once."""
    q = db.queue("q")
    listener = db.listen("ch")
    events = db.stream("s").subscribe(consumer="c")
    claims = q.claim("w", idle_poll_s=None)
    for i in range(50):
        q.enqueue(i)
        db.stream("s").publish(i)
        db.query("SELECT * FROM _honker_live")
    await within(anext(events), 5)
    await within(anext(claims), 5)
    # The watcher's data_version probe is a read of a few microseconds; a
    # short busy timeout lets the checkpoint wait those out, while a snapshot
    # held between calls would still make it report busy.
    other = sqlite3.connect(db_path, isolation_level=None, timeout=1.0)
    try:
        busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0
    assert _wal_size(db_path) == 0
    for it in (listener, events, claims):
        it.close()


def test_truncate_threshold_follows_the_page_size(db: honker.Database) -> None:
    (row,) = db.query("PRAGMA page_size")
    page = next(iter(row.values()))
    assert db._backend._guard.wal_limit == _fileguard.WAL_TRUNCATE_PAGES * (
        page + _fileguard.WAL_FRAME_HEADER
    )
    assert _fileguard.WAL_TRUNCATE_PAGES > _database.WAL_AUTOCHECKPOINT_PAGES
