"""The shm backend across the life of the ``-shm`` file (docs/spec/engine.md §8.4).

SQLite deletes ``-shm`` when the last connection anywhere closes and makes a
new one (a new inode) when the next opens. While a shm watcher runs, its own
Database's connections keep the file alive, so other processes opening and
closing connections cannot pull it away; once everything is closed, the next
shm Database must read the new file, and the process-wide descriptor registry
must let the old one go and hold exactly one descriptor for the new one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from helpers import spawn_child, wait_until, within
from wakelib import CHURNER, NOTIFY_PRODUCER, inode

import honker
from honker.backends.sqlite.watch import shmfd as _shmfd

WAKE_S = 5.0
PER_ROUND = 300


def _registry_entries(shm_path: str) -> dict[tuple[int, int], str]:
    """Held descriptors on ``shm_path`` (live or deleted): identity -> link target."""
    out = {}
    for key, fd in _shmfd.held().items():
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target == shm_path or target.startswith(shm_path + " "):
            out[key] = target
    return out


async def test_a_recreated_shm_file_is_followed(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    shm_path = db_path + "-shm"
    for round_ in range(3):
        # The producer opens first: it creates the -shm file of this round.
        producer = spawn_child(NOTIFY_PRODUCER, db_path, "ch", PER_ROUND, f"r{round_}")
        db = open_db(db_path, watcher_backend="shm")
        listener = db.listen("ch", fallback_poll_s=None)
        key = inode(shm_path)
        # One descriptor, on this round's file; the last round's was closed
        # (its inode had no name left) before this one was opened.
        assert _registry_entries(shm_path) == {key: shm_path}
        producer.send("go")
        for i in range(PER_ROUND):
            note = await within(anext(listener), WAKE_S)
            assert note.payload == [f"r{round_}", i]
        assert inode(shm_path) == key
        assert _registry_entries(shm_path) == {key: shm_path}
        assert producer.readline(30).split()[0] == "done"
        producer.wait()
        listener.close()
        db.close()
        # Nobody has the database open any more: SQLite removed -shm (and -wal).
        wait_until(lambda: not os.path.exists(shm_path), 5, message="-shm removed")
    # The last round's descriptor names a file that no longer exists; it is
    # reclaimed on the registry's next use.
    _shmfd.release((-1, -1))
    assert _registry_entries(shm_path) == {}


async def test_connections_opened_and_closed_elsewhere_keep_the_same_shm(
    open_db: Callable[..., honker.Database], db_path: str, backend: str | None
) -> None:
    """Another process opening and closing Databases over and over neither
    replaces ``-shm`` under us nor hides its commits."""
    db = open_db(db_path, watcher_backend=backend)
    listener = db.listen("ch", fallback_poll_s=None)
    key = inode(db_path + "-shm")
    count = 40
    churner = spawn_child(CHURNER, db_path, count)
    churner.send("go")
    for i in range(count):
        note = await within(anext(listener), WAKE_S)
        assert note.payload == ["churn", i]
    churner.expect("done", 30)
    churner.wait()
    await asyncio.sleep(0)
    assert inode(db_path + "-shm") == key
    listener.close()
