"""Durability settings: ``open(..., synchronous=...)``.

A process crash never loses a commit in any mode (the WAL frames are in the
OS page cache once ``COMMIT`` returns); only an OS crash or power loss can take
the last ``NORMAL`` commits, which ``FULL``/``EXTRA`` prevent by syncing the
WAL on every commit. Power loss cannot be simulated here; these tests pin the
setting on every connection and the process-crash half of the promise.
"""

from __future__ import annotations

import pytest
from helpers import spawn_child
from rel_support import integrity, sigkill

import honker

LEVELS = {"NORMAL": 1, "FULL": 2, "EXTRA": 3}


def _level(run) -> int:
    (row,) = run("PRAGMA synchronous")
    return next(iter(row.values()))


@pytest.mark.parametrize("mode", list(LEVELS))
def test_synchronous_applies_to_the_writer_and_every_reader(
    open_db, db_path: str, mode: str
) -> None:
    db = open_db(db_path, synchronous=mode)
    with db.transaction() as tx:
        assert _level(tx.query) == LEVELS[mode]
    assert _level(db.query) == LEVELS[mode]


# Enqueues jobs one transaction at a time and prints each id once its
# transaction has committed; blocks after the last one until killed.
PRODUCER = """
import sys
import honker
db = honker.open(sys.argv[1], synchronous=sys.argv[2])
q = db.queue("q")
print("ready", flush=True)
for i in range(int(sys.argv[3])):
    print(q.enqueue(i), flush=True)
print("all", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("mode", ["NORMAL", "FULL"])
def test_every_returned_commit_survives_a_sigkill(
    db: honker.Database, db_path: str, mode: str
) -> None:
    db.queue("q")
    child = spawn_child(PRODUCER, db_path, mode, 200)
    ids = []
    while (line := child.readline(timeout=30)) != "all":
        ids.append(int(line))
    sigkill(child)  # no clean close: nothing gets checkpointed or flushed by us
    rows = db.query("SELECT id FROM _honker_live ORDER BY id")
    assert [r["id"] for r in rows] == ids
    assert integrity(db_path) == "ok"
