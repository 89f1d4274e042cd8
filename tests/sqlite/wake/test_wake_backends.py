"""Choosing a watcher backend (docs/spec/engine.md §8.3, §8.4 probe errors, §8.5;
docs/spec/python-api.md §7.2): honker's names, honker's errors, and no silent fallback
to polling for an explicit request that cannot work.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import within

import honker
from honker.backends.sqlite.watch import detectors as _detectors
from honker.backends.sqlite.watch import inotify as _inotify
from honker.backends.sqlite.watch import shmfd as _shmfd

UNKNOWN = "unknown watcher backend {}; valid: None, 'polling', 'kernel', 'shm'"
PROBE_FAILED = "watcher_backend probe failed: "
SHM_UNAVAILABLE_END = ". WAL mode + open connection required."

ACCEPTED = [
    (None, "kernel"),  # the default where inotify works (this suite runs on Linux)
    ("polling", "polling"),
    ("poll", "polling"),
    ("shm", "shm"),
    ("shm-fast-path", "shm"),
    ("kernel", "kernel"),
    ("kernel-watcher", "kernel"),
]


def _commit(db: honker.Database) -> None:
    with db.transaction() as tx:
        tx.notify("ch", 1)


@pytest.mark.parametrize(("name", "expected"), ACCEPTED, ids=lambda v: repr(v))
async def test_each_accepted_name_runs_its_backend(
    open_db: Callable[..., honker.Database], db_path: str, name: str | None, expected: str
) -> None:
    db = open_db(db_path, watcher_backend=name)
    updates = db.update_events()
    assert db._backend._watcher is not None and db._backend._watcher.backend == expected
    _commit(db)
    assert await within(updates.wait(None), 5)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("KERNEL", '"KERNEL"'),
        ("Polling", '"Polling"'),
        (" polling ", '" polling "'),
        ("polling\n", '"polling\\n"'),
        ("\tkernel\r", '"\\tkernel\\r"'),
        ("shm\x00\x01\x7f", '"shm\\0\\u{1}\\u{7f}"'),
        ("shm_fast_path", '"shm_fast_path"'),
        ("kernel watcher", '"kernel watcher"'),
        ("inotify", '"inotify"'),
        ("None", '"None"'),
        ("", '""'),
        ("a\"b\\c'", '"a\\"b\\\\c\'"'),
    ],
)
def test_unknown_names_raise_honkers_value_error(db_path: str, name: str, shown: str) -> None:
    """Exact, case-sensitive names; the message quotes the name as Rust's
    ``{:?}`` does."""
    with pytest.raises(ValueError) as info:
        honker.open(db_path, watcher_backend=name)
    assert str(info.value) == UNKNOWN.format(shown)


# -- shm: a database whose WAL index is not in a -shm file ---------------------


@pytest.mark.parametrize("uri_options", ["vfs=unix-excl", "nolock=1", "vfs=unix-none"])
@pytest.mark.parametrize("name", ["shm", "shm-fast-path"])
def test_shm_fails_at_open_when_the_wal_index_is_not_in_shared_memory(
    open_db: Callable[..., honker.Database], tmp_path: Path, name: str, uri_options: str
) -> None:
    """SQLite keeps the WAL index in heap memory (no ``-shm`` file) for the
    ``unix-excl`` VFS and for connections that take no locks; the shm backend
    has nothing to read there, and says so at open()."""
    uri = f"file:{tmp_path / 't.db'}?{uri_options}"
    with pytest.raises(RuntimeError) as info:
        honker.open(uri, watcher_backend=name)
    message = str(info.value)
    assert message.startswith(PROBE_FAILED + "-shm unavailable ("), message
    assert message.endswith(SHM_UNAVAILABLE_END), message
    assert not (tmp_path / "t.db-shm").exists()
    # The same file opens with a backend that can work: the refusal is the
    # shm backend's own, not a broken URI.
    open_db(uri, watcher_backend="polling").close()


def test_probe_shm_on_files_sqlite_did_not_make(tmp_path: Path) -> None:
    """``probe_shm`` itself: a rollback-journal database has no ``-shm``; a
    ``-shm`` that is too short or has another layout is refused. (honker.open
    always switches to WAL, so these files are made by hand; no SQLite
    connection uses them.)"""
    path = str(tmp_path / "delete-mode.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
        conn.execute("CREATE TABLE t (x)")
        with pytest.raises(RuntimeError) as info:
            _detectors.probe_shm(path)
        assert str(info.value).startswith(PROBE_FAILED + "-shm unavailable (")
        assert str(info.value).endswith(SHM_UNAVAILABLE_END)

        shm = Path(path + "-shm")
        shm.write_bytes(b"\x01\x02\x03\x04")
        with pytest.raises(RuntimeError) as info:
            _detectors.probe_shm(path)
        assert str(info.value).startswith(PROBE_FAILED + "-shm too small or unreadable: ")

        shm.write_bytes((12345).to_bytes(4, sys.byteorder) + bytes(28))
        with pytest.raises(RuntimeError) as info:
            _detectors.probe_shm(path)
        assert str(info.value) == (
            PROBE_FAILED + "WAL index version 12345 != 3007000 (unsupported SQLite layout)"
        )
        shm.unlink()
    finally:
        conn.close()
    _shmfd.release((-1, -1))  # reap the unlinked fake's descriptor now


def test_shm_refuses_a_big_endian_platform(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_detectors.sys, "byteorder", "big")
    with pytest.raises(RuntimeError) as info:
        honker.open(db_path, watcher_backend="shm")
    assert str(info.value) == PROBE_FAILED + "shm-fast-path requires little-endian platform"


def test_shm_failing_when_the_watcher_starts_is_not_hidden(
    open_db: Callable[..., honker.Database], db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe passed at open(), but the watcher cannot start later: the
    subscription fails loudly instead of quietly polling."""
    db = open_db(db_path, watcher_backend="shm")

    def unavailable(path: str) -> tuple[tuple[int, int], int]:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    monkeypatch.setattr(_shmfd, "acquire", unavailable)
    with pytest.raises(RuntimeError) as info:
        db.update_events()
    assert str(info.value).startswith(PROBE_FAILED + "-shm unavailable (")
    with pytest.raises(RuntimeError, match=r"^watcher_backend probe failed"):
        db.listen("ch", fallback_poll_s=None)
    monkeypatch.undo()
    assert db.update_events() is not None  # and it recovers once it can work


# -- kernel: inotify unavailable ---------------------------------------------------


def _no_inotify() -> None:
    raise _inotify.InotifyUnavailable(errno.ENOSYS, "inotify_init1: Function not implemented")


@pytest.fixture
def without_inotify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_inotify, "_libc", _no_inotify)


@pytest.mark.parametrize("name", ["kernel", "kernel-watcher"])
def test_kernel_fails_at_open_without_inotify(
    without_inotify: None, db_path: str, name: str
) -> None:
    with pytest.raises(RuntimeError) as info:
        honker.open(db_path, watcher_backend=name)
    assert str(info.value).startswith(PROBE_FAILED + "notify init failed: ")
    assert "Function not implemented" in str(info.value)


def test_kernel_fails_at_open_when_the_directory_cannot_be_watched(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. fs.inotify.max_user_watches is exhausted (ENOSPC)."""

    def no_watch(self: _inotify.Inotify, path: str, mask: int) -> int:
        raise OSError(errno.ENOSPC, f"inotify_add_watch({path!r}): No space left on device")

    monkeypatch.setattr(_inotify.Inotify, "add_watch", no_watch)
    with pytest.raises(RuntimeError) as info:
        honker.open(db_path, watcher_backend="kernel")
    directory = str(Path(db_path).parent)
    assert str(info.value).startswith(f"{PROBE_FAILED}can't watch {directory}: ")


def test_kernel_fails_at_open_off_linux(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_detectors, "kernel_available", lambda: False)
    with pytest.raises(RuntimeError) as info:
        honker.open(db_path, watcher_backend="kernel")
    assert str(info.value).startswith(PROBE_FAILED)


def test_kernel_failing_when_the_watcher_starts_is_not_hidden(
    open_db: Callable[..., honker.Database], db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_db(db_path, watcher_backend="kernel")
    monkeypatch.setattr(_inotify, "_libc", _no_inotify)
    with pytest.raises(RuntimeError) as info:
        db.queue("q").claim("w", idle_poll_s=None)
    assert str(info.value).startswith(PROBE_FAILED + "notify init failed: ")


async def test_the_default_falls_back_to_polling_without_inotify(
    without_inotify: None, open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """Only an explicit request refuses; the default picks what works."""
    db = open_db(db_path)
    updates = db.update_events()
    assert db._backend._watcher is not None and db._backend._watcher.backend == "polling"
    _commit(db)
    assert await within(updates.wait(None), 5)
