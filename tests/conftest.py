"""Fixtures shared by every test directory.

- ``db_path``: a fresh ``tmp_path / "t.db"`` (as ``str``: honker.open takes str only);
- ``db``: ``honker.open(db_path)``, closed at teardown;
- ``open_db``: a factory for more Databases (other paths, other options),
  each closed at teardown;
- ``pg_server``: a throwaway PostgreSQL server for the session
  (``tests/pg_server.py``), started on first use; where it cannot start, the
  tests that use it fail with what is missing;
- an autouse guard that fails a test which leaves a ``honker*`` thread or an
  extra file descriptor behind, after the fixtures above closed their
  databases and every child process was reaped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import honker_threads, open_fds, reap_children, wait_until

import honker

LEAK_GRACE_S = 2.0


def _kept_on_purpose() -> set[str]:
    """Descriptors honker keeps open by design: the shm backend's process-wide
    ``-shm`` descriptors, never closed while the file has a name (closing one
    would drop SQLite's POSIX locks; docs/spec/engine.md §8.4)."""
    try:
        from honker.backends.sqlite.watch import shmfd as _shmfd
    except ImportError:
        return set()
    held = getattr(_shmfd, "held", dict)().values()
    return {str(fd) for fd in (*held, *getattr(_shmfd, "_leaked", ()))}


def _fds() -> set[str]:
    kept = _kept_on_purpose()
    return {entry for entry in open_fds() if entry.split(" ", 1)[0] not in kept}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaks honker threads or file descriptors."""
    threads_before = honker_threads()
    fds_before = _fds()
    yield
    reap_children()

    def settled() -> bool:
        return not (honker_threads() - threads_before) and not (_fds() - fds_before)

    try:
        wait_until(settled, timeout=LEAK_GRACE_S)
        return
    except AssertionError:
        pass  # reported below, outside the except block, without the chain
    threads = sorted(t.name for t in honker_threads() - threads_before)
    fds = sorted(_fds() - fds_before)
    pytest.fail(f"test leaked threads {threads} / file descriptors {fds}", pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The session's PostgreSQL server (``tests/pg_server.py``)."""
    from pg_server import PgServer, ServerUnavailable

    try:
        server = PgServer()
    except ServerUnavailable as exc:
        pytest.fail(f"the PostgreSQL tests need a server: {exc}", pytrace=False)
    try:
        server.start()
    except ServerUnavailable as exc:
        log = server.log()
        server.stop()
        pytest.fail(f"the test PostgreSQL server did not start: {exc}\n{log}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "t.db")


@pytest.fixture
def open_db() -> Iterator[Callable[..., honker.Database]]:
    """``open_db(path, **options)``: honker.open, closed when the test ends."""
    opened: list[honker.Database] = []

    def _open(path: str, *args: Any, **kwargs: Any) -> honker.Database:
        d = honker.open(path, *args, **kwargs)
        opened.append(d)
        return d

    yield _open
    for d in opened:
        d.close()


@pytest.fixture
def db(open_db: Callable[..., honker.Database], db_path: str) -> honker.Database:
    return open_db(db_path)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """The process-wide task registry is empty during the test and restored after."""
    reg = honker.registry()
    saved = dict(reg._by_name)
    reg._by_name.clear()
    yield
    reg._by_name.clear()
    reg._by_name.update(saved)
