"""The kernel (inotify) backend's promise (docs/spec/engine.md §8.5,
honker.backends.sqlite.watch.detectors):
a kernel event only triggers a confirmation (the ``-shm`` change counter in
WAL mode, else ``data_version``), and a safety
check every 100 ms means that an event arriving before its commit is visible
(or no event at all) can delay a wake but never lose it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import within

import honker
from honker.backends.sqlite.watch import detectors as _detectors

SLOW_PUBLISH_S = 0.05  # > CONFIRM_FOR_S: the confirmation gives up before the commit shows


class _SlowPublisher:
    """Shows each new counter value only SLOW_PUBLISH_S after it first changed."""

    def __init__(self) -> None:
        self.hidden: dict[int, tuple[int, float]] = {}  # id(source) -> (last shown, since)

    def __call__(self, source: object, version: int) -> int:
        shown, since = self.hidden.setdefault(id(source), (version, 0.0))
        if version == shown:
            return version
        now = time.monotonic()
        if since == 0.0:
            self.hidden[id(source)] = (shown, now)
            return shown
        if now - since < SLOW_PUBLISH_S:
            return shown
        self.hidden[id(source)] = (version, 0.0)
        return version


@pytest.fixture
def slow_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the watcher see each new commit (``data_version`` or the ``-shm``
    counter, whichever it confirms with) only SLOW_PUBLISH_S after it first
    changed: as if the writer wrote its WAL frames (the inotify event) and was
    then descheduled before publishing the WAL-index header."""
    slow = _SlowPublisher()
    real_dv = _detectors._DataVersion._read
    real_shm = _detectors._ShmCounter._read

    def read_dv(conn: sqlite3.Connection) -> int:
        return slow(conn, real_dv(conn))

    def read_shm(self: _detectors._ShmCounter) -> int:
        return slow(self, real_shm(self))

    monkeypatch.setattr(_detectors._DataVersion, "_read", staticmethod(read_dv))
    monkeypatch.setattr(_detectors._ShmCounter, "_read", read_shm)


@pytest.fixture
def busy_directory(tmp_path: Path) -> Iterator[None]:
    """Another file in the database's directory written every 10 ms (a log, a
    second database): a steady stream of inotify events that are not ours."""
    stop = threading.Event()

    def scribble() -> None:
        with open(tmp_path / "app.log", "a") as log:
            while not stop.wait(0.01):
                log.write("x\n")
                log.flush()

    writer = threading.Thread(target=scribble, name="test-scribbler")
    writer.start()
    yield
    stop.set()
    writer.join()


async def _late_commit_wakes(db: honker.Database) -> None:
    """A commit whose publication lags its kernel event still wakes a waiter
    within the 100 ms safety check (0.5 s allows a loaded machine), not by luck."""
    updates = db.update_events()
    with db.transaction() as tx:
        tx.notify("ch", 1)
    started = time.monotonic()
    assert await within(updates.wait(None), 2)
    assert time.monotonic() - started < 0.5


async def test_a_commit_published_late_still_wakes(
    slow_publisher: None, open_db: Callable[..., honker.Database], db_path: str
) -> None:
    await _late_commit_wakes(open_db(db_path, watcher_backend="kernel"))


async def test_a_commit_published_late_wakes_even_when_the_directory_is_busy(
    slow_publisher: None,
    busy_directory: None,
    open_db: Callable[..., honker.Database],
    db_path: str,
) -> None:
    """Events for other files must not postpone the safety check forever."""
    await _late_commit_wakes(open_db(db_path, watcher_backend="kernel"))
