"""No descriptor of the database file or its ``-shm`` is closed while the file
has a name (docs/spec/engine.md §8.4, honker issue #80).

On POSIX, closing *any* descriptor of an inode drops *every* fcntl lock this
process holds on it, SQLite's included; another process could then delete
``-wal``/``-shm`` under a live connection. So while a second Database in this
process keeps SQLite connections (and their locks) on the file, shm Databases
are opened and closed many times, in one thread and in several, and:

- ``os.close`` is spied on: it must never be asked to close a descriptor whose
  target is the database or its ``-shm`` while that inode has a name;
- a sampler thread records every descriptor that points at either file; each
  must still be open, on the same file, at the end;
- ``/proc/locks`` must show this process's locks on both files throughout;
- the shm registry holds exactly one descriptor per ``-shm`` inode.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import honker
from honker.backends.sqlite.watch import shmfd as _shmfd

CYCLES = 30
THREADS, THREAD_CYCLES = 4, 8


def _targets(paths: set[str]) -> dict[int, str]:
    """This process's descriptors whose target is one of ``paths``."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile
        if target in paths:
            out[int(name)] = target
    return out


def _locks(path: str) -> set[tuple[str, str, str]]:
    """This process's POSIX locks on ``path``: (type, start, end)."""
    st = os.stat(path)
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pid = str(os.getpid())
    held = set()
    with open("/proc/locks") as f:  # not a database file: closing it is harmless
        for line in f:
            fields = line.split()
            if "->" in fields:
                continue  # a blocked request, not a held lock
            if fields[1] == "POSIX" and fields[4] == pid and fields[5] == ident:
                held.add((fields[3], fields[6], fields[7]))
    return held


class FdSampler(threading.Thread):
    """Records every descriptor that ever pointed at ``paths``, and any that
    later pointed somewhere else (closed and reused)."""

    def __init__(self, paths: set[str]) -> None:
        super().__init__(name="test-fd-sampler", daemon=True)
        self.paths = paths
        self.seen: dict[int, str] = {}
        self.changed: list[tuple[int, str, str]] = []
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            time.sleep(0.0005)

    def sample(self) -> None:
        for fd, target in _targets(self.paths).items():
            first = self.seen.setdefault(fd, target)
            if first != target:
                self.changed.append((fd, first, target))
        self.samples += 1

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


@pytest.fixture
def close_spy(monkeypatch: pytest.MonkeyPatch, db_path: str) -> Iterator[list[str]]:
    """Refuse (and record) any os.close of the live database or -shm."""
    watched = {db_path, db_path + "-shm"}
    real_close = os.close
    refused: list[str] = []

    def close(fd: int) -> None:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target in watched:
            try:
                nlink = os.fstat(fd).st_nlink
            except OSError:
                nlink = 0
            if nlink > 0:
                refused.append(f"os.close({fd}) -> {target} (nlink={nlink})")
                return  # closing it would drop SQLite's locks
        real_close(fd)

    monkeypatch.setattr(os, "close", close)
    yield refused


def test_shm_databases_come_and_go_without_closing_a_live_descriptor(
    open_db: Callable[..., honker.Database], db_path: str, close_spy: list[str]
) -> None:
    shm_path = db_path + "-shm"
    # The long-lived neighbour: its connections hold SQLite's locks all along.
    neighbour = open_db(db_path, watcher_backend="polling")
    neighbour.queue("q").enqueue({"warm": True})
    assert neighbour.query("SELECT count(*) AS n FROM _honker_live")[0]["n"] == 1
    baseline = {path: _locks(path) for path in (db_path, shm_path)}
    assert baseline[db_path] and baseline[shm_path], f"no SQLite locks to guard: {baseline}"
    sampler = FdSampler({db_path, shm_path})
    sampler.start()
    errors: list[BaseException] = []

    def check(where: str) -> None:
        for path, locks in baseline.items():
            assert locks <= _locks(path), f"{where}: lost locks on {path}"
        held = _shmfd.held()
        inodes = {(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in held.values()}
        assert len(inodes) == len(held), f"{where}: two registry descriptors on one inode"
        ours = {k: fd for k, fd in held.items() if os.readlink(f"/proc/self/fd/{fd}") == shm_path}
        st = os.stat(shm_path)
        assert list(ours) == [(st.st_dev, st.st_ino)], f"{where}: registry {held}"
        assert not _shmfd._leaked, f"{where}: a duplicate descriptor was opened"
        on_shm = [fd for fd, t in _targets({shm_path}).items() if t == shm_path]
        assert len(on_shm) <= 2, f"{where}: {on_shm} (SQLite's and the registry's at most)"

    def cycle(where: str, count: int, rng: random.Random) -> None:
        dbs = [honker.open(db_path, watcher_backend="shm") for _ in range(count)]
        try:
            subs = [d.update_events() for d in dbs]
            with rng.choice([neighbour, *dbs]).transaction() as tx:
                tx.notify("ch", where)
            for sub in subs:
                assert sub.wait_sync(5), f"{where}: no wake"
            check(f"{where}, open")
        finally:
            rng.shuffle(dbs)
            for d in dbs:
                d.close()
        check(f"{where}, closed")

    def worker(k: int) -> None:
        rng = random.Random(k)
        try:
            for i in range(THREAD_CYCLES):
                cycle(f"thread {k} cycle {i}", 1, rng)
        except BaseException as exc:  # noqa: BLE001  re-raised by the main thread
            errors.append(exc)

    try:
        rng = random.Random(0)
        for i in range(CYCLES):
            cycle(f"cycle {i}", 1 + i % 3, rng)
        threads = [
            threading.Thread(target=worker, args=(k,), name=f"test-cycler-{k}")
            for k in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sampler.stop()
    if errors:
        raise errors[0]
    assert close_spy == [], "a live database/-shm descriptor was closed"
    assert sampler.samples > 100 and sampler.seen, "the sampler saw the descriptors"
    assert sampler.changed == [], "a descriptor on the file was closed and reused"
    still = _targets({db_path, shm_path})
    assert {fd: t for fd, t in sampler.seen.items() if still.get(fd) != t} == {}
    # Bounded by how many connections are open at once (about a dozen), not by
    # how many cycles ran: SQLite reuses the descriptors it keeps.
    assert len(sampler.seen) <= 24, sorted(sampler.seen.items())
    check("end")


def test_the_lock_check_sees_a_dropped_lock(tmp_path: Path) -> None:
    """The hazard is real and /proc/locks shows it: one open+close of -shm
    elsewhere in the process drops the lock SQLite's connection holds."""
    path = str(tmp_path / "control.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        before = _locks(path + "-shm")
        assert before, "SQLite holds its -shm lock"
        os.close(os.open(path + "-shm", os.O_RDONLY))  # exactly what must never happen
        assert _locks(path + "-shm") == set()
    finally:
        conn.close()
