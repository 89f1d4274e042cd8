"""The writer's file checks made off the write path (honker/backends/sqlite/fileguard.py).

Before writing, the writer makes sure the path still names the file it has
open, at most every ``FILE_CHECK_EVERY_S``; after a commit it looks at the
size of ``-wal``. Both are usually done by another thread, so that a write
after a pause (an enqueue, a worker's claim after a wake-up) makes no
``stat`` call: the update watcher's thread in a process that waits, or, in a
process that only writes, a checker thread of the guard's own, which ends
once writes stop for ``CHECKER_IDLE_S`` and at close. Here: that the
checks are kept fresh without writes, who makes them when, that the
checker thread never outlives its use, and that a replaced file is still
refused by a process that only writes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import honker_threads, wait_until

import honker
from honker._errors import DatabaseReplacedError
from honker.backends.sqlite import fileguard

CHECKER = "honker-file-check"


def _names() -> list[str]:
    return sorted(t.name for t in honker_threads())


def _guard(db: honker.Database) -> fileguard.FileGuard:
    guard = db._backend._guard  # type: ignore[attr-defined]
    assert guard is not None
    return guard  # type: ignore[no-any-return]


def test_a_process_that_only_writes_has_its_checks_made_by_a_thread(db: honker.Database) -> None:
    assert CHECKER not in _names(), "no thread before the first write"
    db.queue("q").enqueue(1)
    wait_until(lambda: CHECKER in _names(), timeout=5, message="the checker starts")
    guard = _guard(db)
    # With no write at all, both checks stay ahead of the clock: a write now
    # would skip both (no stat call on its path).
    for _ in range(3):
        before = guard.file_check_at
        wait_until(lambda b=before: guard.file_check_at > b, timeout=5, message="checked again")
        now = time.monotonic()
        assert guard.file_check_at > now and guard.wal_check_at > now


def test_the_checker_ends_after_writes_stop_and_at_close(
    db: honker.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fileguard, "CHECKER_IDLE_S", 0.3)
    q = db.queue("q")
    q.enqueue(1)
    wait_until(lambda: CHECKER in _names(), timeout=5)
    wait_until(lambda: CHECKER not in _names(), timeout=5, message="it ends when idle")
    # The next write looks itself (its check is due again) and starts it anew.
    wait_until(lambda: time.monotonic() > _guard(db).file_check_at, timeout=5)
    q.enqueue(2)
    wait_until(lambda: CHECKER in _names(), timeout=5)
    db.close()
    assert CHECKER not in _names(), "closed with the Database"


def test_the_watcher_takes_the_checks_over(db: honker.Database) -> None:
    db.queue("q").enqueue(1)
    wait_until(lambda: CHECKER in _names(), timeout=5)
    db.update_events()  # starts the watcher
    assert _names() == ["honker-update-poll"], "the checker stopped at once"
    guard = _guard(db)
    before = guard.file_check_at
    wait_until(lambda: guard.file_check_at > before, timeout=5, message="the watcher checks")
    db.queue("q").enqueue(2)  # (a checker would start inside enqueue, not later)
    assert _names() == ["honker-update-poll"], "a write with the watcher running starts none"


@pytest.mark.timeout(30)
def test_a_process_that_only_writes_still_refuses_a_replaced_file(
    open_db: Callable[..., honker.Database], db_path: str, tmp_path: Path
) -> None:
    db = open_db(db_path)
    q = db.queue("q")
    q.enqueue("before")
    wait_until(lambda: CHECKER in _names(), timeout=5)
    fresh = str(tmp_path / "fresh.db")
    honker.open(fresh).close()
    aside = str(tmp_path / "aside.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.rename(db_path + suffix, aside + suffix)
    os.replace(fresh, db_path)
    replaced_at = time.monotonic()

    def refused() -> bool:
        try:
            q.enqueue("after")
        except DatabaseReplacedError:
            return True
        return False

    wait_until(refused, timeout=5, message="a write is refused")
    # Within one check period (and the checker's own period), not at random.
    assert time.monotonic() - replaced_at < 1.0
    wait_until(lambda: CHECKER not in _names(), timeout=5, message="the checker gave up")
    with pytest.raises(DatabaseReplacedError, match="was replaced"):
        q.enqueue("again")
