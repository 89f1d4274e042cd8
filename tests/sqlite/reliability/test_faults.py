"""Faults: a full disk, a read-only file, a file deleted or replaced under a
running worker, a corrupt file, an SQLite that is too old.

Each must give a typed honker error with a clear message, never a hang, and
never lose work that was already committed.

The disk is filled on a 4 MiB tmpfs mounted for the test (the tests run as
root); where mounting is not permitted, a child process lowers its own
``RLIMIT_FSIZE`` instead (with SIGXFSZ ignored, writes past it fail).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import spawn_child, wait_until, within
from rel_support import Lines, integrity, scalar, sigkill

import honker
from honker._errors import (
    CorruptDatabaseError,
    DatabaseError,
    DatabaseReplacedError,
    DiskFullError,
    HonkerError,
    ReadOnlyDatabaseError,
    WatcherDiedError,
)

# -- a small filesystem ----------------------------------------------------------


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path | None]:
    """A 4 MiB tmpfs directory, or None where mounting is not permitted."""
    where = tmp_path / "small"
    if not _mount_tmpfs(where, "4m"):
        yield None
        return
    try:
        yield where
    finally:
        _umount(where)


# Fills the database with 40 KB jobs, one per transaction, until a write
# fails; prints the ids that committed and the error. Then, told "retry" (after
# the test freed space), enqueues once more. With "rlimit" it first caps its
# own file size a little above the current one.
DISK_FILLER = """
import json, os, resource, signal, sys
import honker

path, mode = sys.argv[1], sys.argv[2]
db = honker.open(path)
q = db.queue("q")
if mode == "rlimit":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cap = os.path.getsize(path) + 2 * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, resource.RLIM_INFINITY))
print("ready", flush=True)
committed, error = [], None
while error is None:
    try:
        committed.append(q.enqueue("x" * 40_000))
    except Exception as exc:
        error = exc
print(json.dumps({
    "committed": committed,
    "type": type(error).__name__,
    "bases": [c.__name__ for c in type(error).__mro__],
    "message": str(error),
}), flush=True)
sys.stdin.readline()
if mode == "rlimit":
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
try:
    print("retried", q.enqueue("after"), flush=True)
except Exception as exc:
    print(f"retry failed {type(exc).__name__}: {exc}", flush=True)
db.close()
"""


@pytest.mark.timeout(60)
def test_disk_full_raises_disk_full_error_and_keeps_committed_jobs(
    small_fs: Path | None, tmp_path: Path
) -> None:
    if small_fs is not None:
        path = str(small_fs / "full.db")
        filler = small_fs / "filler"
        filler.write_bytes(b"\0" * 2**20)  # freed later to make room again
        mode = "tmpfs"
    else:
        path = str(tmp_path / "full.db")
        filler = None
        mode = "rlimit"
    honker.open(path).close()
    child = spawn_child(DISK_FILLER, path, mode)
    report = json.loads(child.readline(timeout=30))
    assert len(report["committed"]) > 10
    assert "DatabaseError" in report["bases"] and "RuntimeError" in report["bases"]
    if mode == "tmpfs":
        assert report["type"] == "DiskFullError", report
        assert report["message"] == "database or disk is full"
    else:  # EFBIG: SQLite reports a short write as FULL, a failed one as IOERR
        assert report["type"] in ("DiskFullError", "DatabaseError"), report
    if filler is not None:
        filler.unlink()
    child.send("retry")
    line = child.readline(timeout=30)
    assert line.startswith("retried "), line
    child.wait(timeout=30)

    # Every job whose enqueue returned is there, byte for byte.
    conn = sqlite3.connect(path)
    try:
        rows = dict(conn.execute("SELECT id, payload FROM _honker_live").fetchall())
    finally:
        conn.close()
    for job_id in report["committed"]:
        assert rows[job_id] == json.dumps("x" * 40_000)
    assert integrity(path) == "ok"


def test_disk_full_error_class() -> None:
    assert issubclass(DiskFullError, DatabaseError) and issubclass(DiskFullError, RuntimeError)


# -- read-only -------------------------------------------------------------------------


def test_read_only_filesystem_gives_a_typed_error_at_open(small_fs: Path | None) -> None:
    if small_fs is None:
        pytest.skip("mount is not permitted here: no read-only filesystem to test with")
    path = str(small_fs / "ro.db")
    db = honker.open(path)
    db.queue("q").enqueue("kept")
    db.close()  # the last connection checkpoints and removes -wal/-shm
    done = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_fs)], capture_output=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    with pytest.raises(DatabaseError) as info:
        honker.open(path)
    err = info.value
    assert isinstance(err, RuntimeError)
    # SQLite cannot create -shm on a read-only filesystem: it says so.
    assert "unable to open database file" in str(err) or "readonly" in str(err), err
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], capture_output=True, timeout=10)
    assert scalar(path, "SELECT COUNT(*) FROM _honker_live") == 1


# Opens the database as an unprivileged user (uid 65534) who may read the
# 0444 file but not write it or its directory, and reports what each step did.
UNPRIVILEGED = """
import json, os, sys
import honker  # imported as root: the interpreter's files are not readable as 65534
os.setgid(65534)
os.setuid(65534)
out = {}
try:
    db = honker.open(sys.argv[1])
    out["open"] = "ok"
    try:
        db.queue("q").enqueue("x")
        out["enqueue"] = "ok"
    except Exception as exc:
        out["enqueue"] = [type(exc).__name__, str(exc), isinstance(exc, RuntimeError)]
    db.close()
except Exception as exc:
    out["open"] = [type(exc).__name__, str(exc), isinstance(exc, RuntimeError)]
print(json.dumps(out), flush=True)
"""


def test_read_only_file_for_an_unprivileged_user() -> None:
    # pytest's tmp_path sits under a root-only directory; this one does not.
    directory = Path(tempfile.mkdtemp(prefix="honker-ro-", dir="/tmp"))
    path = directory / "t.db"
    db = honker.open(str(path))
    db.queue("q").enqueue("kept")
    db.close()
    path.chmod(0o444)
    directory.chmod(0o555)
    try:
        child = spawn_child(UNPRIVILEGED, str(path), ready=None)
        out = json.loads(child.readline(timeout=20))
        child.wait(timeout=20)
        assert scalar(str(path), "SELECT COUNT(*) FROM _honker_live") == 1
    finally:
        directory.chmod(0o755)
        shutil.rmtree(directory)
    # Either open refuses (it writes the schema) or the first write does; the
    # error is a RuntimeError subclass of ours with SQLite's text.
    failure = out["open"] if out["open"] != "ok" else out["enqueue"]
    assert failure != "ok", out
    kind, message, is_runtime = failure
    assert is_runtime and kind in ("ReadOnlyDatabaseError", "DatabaseError"), out
    assert "readonly" in message or "unable to open" in message, out


def test_read_only_uri_gives_read_only_error(db: honker.Database, db_path: str, open_db) -> None:
    db.queue("q").enqueue("kept")
    ro = open_db(f"file:{db_path}?mode=ro")
    with pytest.raises(ReadOnlyDatabaseError, match="attempt to write a readonly database"):
        ro.queue("q").enqueue("x")
    assert [r["payload"] for r in ro.query("SELECT payload FROM _honker_live")] == ['"kept"']


# -- the file deleted or replaced under a running worker ----------------------------

# A worker that prints "acked N" after each ack (and its business row) has
# committed, and "died <type>: <message>" when its loop ends with an error.
WORKER = """
import asyncio, sys
import honker

db = honker.open(sys.argv[1])
q = db.queue("q")
print("ready", flush=True)

async def main():
    async for job in q.claim("w", idle_poll_s=1.0):
        with db.transaction() as tx:
            (row,) = tx.query("SELECT honker_ack(?, 'w') AS ok", [job.id])
            tx.execute("INSERT INTO done (job_id) VALUES (?)", [job.id])
        print(f"acked {job.id}", flush=True)

try:
    asyncio.run(main())
except Exception as exc:
    print(f"died {type(exc).__name__}: {exc}", flush=True)
try:
    q.enqueue("after death")
    print("wrote after death", flush=True)
except Exception as exc:
    print(f"write refused {type(exc).__name__}", flush=True)
sys.stdin.readline()
"""


def _worker_setup(db: honker.Database, db_path: str) -> tuple[honker.Queue, Lines]:
    q = db.queue("q")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE done (job_id INTEGER NOT NULL)")
    worker = Lines(spawn_child(WORKER, db_path))
    for i in range(5):
        q.enqueue(i)
    wait_until(lambda: len(worker.starting("acked")) == 5, timeout=10)
    return q, worker


@pytest.mark.timeout(30)
def test_file_replaced_under_a_running_worker(
    db: honker.Database, db_path: str, tmp_path: Path
) -> None:
    q, worker = _worker_setup(db, db_path)
    # Move the whole database (file, -wal, -shm) aside and put another one in
    # its place, as a restore from backup would.
    aside = str(tmp_path / "aside.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.rename(db_path + suffix, aside + suffix)
    fresh = str(tmp_path / "fresh.db")
    honker.open(fresh).close()
    os.replace(fresh, db_path)

    line = wait_until(lambda: worker.starting("died"), timeout=2, message="the worker stops")[0]
    # The watcher notices first, unless the worker's idle poll writes first.
    assert "WatcherDiedError" in line or "DatabaseReplacedError" in line, line
    wait_until(lambda: worker.starting("write refused"), timeout=2)
    assert worker.starting("write refused") == ["write refused DatabaseReplacedError"]
    assert not worker.starting("wrote after death")
    # This process's writes are refused too, instead of going to the old file.
    with pytest.raises(DatabaseReplacedError, match="was replaced"):
        q.enqueue("lost?")
    sigkill(worker.child)
    # Everything the worker reported as committed is in the old file.
    acked = {int(ln.split()[1]) for ln in worker.starting("acked")}
    conn = sqlite3.connect(aside)
    try:
        done = {r[0] for r in conn.execute("SELECT job_id FROM done")}
    finally:
        conn.close()
    assert acked == done and len(done) == 5
    assert integrity(aside) == "ok"


@pytest.mark.timeout(30)
async def test_file_deleted_under_a_running_worker(db: honker.Database, db_path: str) -> None:
    q, worker = _worker_setup(db, db_path)
    waiting = q.claim("me", idle_poll_s=None)
    pending = asyncio.ensure_future(anext(waiting))
    await asyncio.sleep(0)  # let it subscribe and start waiting
    os.remove(db_path)
    with pytest.raises(WatcherDiedError):
        await within(pending, 2)
    line = wait_until(lambda: worker.starting("died"), timeout=2, message="the worker stops")[0]
    assert "WatcherDiedError" in line or "DatabaseReplacedError" in line, line
    wait_until(lambda: worker.starting("write refused"), timeout=2)
    assert not worker.starting("wrote after death")
    with pytest.raises(DatabaseReplacedError, match="was deleted"):
        q.enqueue("lost?")
    waiting.close()
    sigkill(worker.child)


# -- corrupt files -------------------------------------------------------------------


def _filled(path: str, jobs: int = 2000) -> None:
    db = honker.open(path)
    q = db.queue("q")
    with db.transaction() as tx:
        for i in range(jobs):
            q.enqueue({"i": i, "pad": "p" * 200}, tx=tx)
    db.close()  # checkpointed: everything is in the main file


def _use(path: str) -> None:
    """Open the database and touch every live row (raises if it cannot)."""
    db = honker.open(path)
    try:
        db.query("SELECT COUNT(*), SUM(LENGTH(payload)) FROM _honker_live")
        q = db.queue("q")
        while q.claim_batch("w", 500):
            pass
    finally:
        db.close()


@pytest.mark.timeout(30)
def test_garbage_file_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(CorruptDatabaseError, match="file is not a database") as info:
        honker.open(str(path))
    assert isinstance(info.value, RuntimeError)


@pytest.mark.timeout(30)
def test_truncated_file_reports_corruption(tmp_path: Path) -> None:
    path = str(tmp_path / "trunc.db")
    _filled(path)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CorruptDatabaseError, match="malformed") as info:
        _use(path)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, HonkerError)


@pytest.mark.timeout(30)
def test_damaged_page_reports_corruption(tmp_path: Path) -> None:
    path = str(tmp_path / "damaged.db")
    _filled(path)
    page = scalar(path, "PRAGMA page_size")
    pages = os.path.getsize(path) // page
    with open(path, "r+b") as f:  # a valid header; garbage over a page in the middle
        f.seek((pages // 2) * page)
        f.write(b"\xff" * page)
    with pytest.raises(CorruptDatabaseError, match="malformed"):
        _use(path)
    try:
        verdict = integrity(path)
    except sqlite3.DatabaseError as exc:  # so damaged that the check itself stops
        verdict = str(exc)
    assert verdict != "ok"


def test_corrupt_error_leaves_the_database_usable_for_the_next_call(tmp_path: Path) -> None:
    """After a corruption error the writer slot is free again: the next call
    fails the same way at once instead of deadlocking."""
    path = str(tmp_path / "damaged.db")
    _filled(path)
    page = scalar(path, "PRAGMA page_size")
    pages = os.path.getsize(path) // page
    with open(path, "r+b") as f:
        f.seek((pages // 2) * page)
        f.write(b"\xff" * page)
    db = honker.open(path)
    try:
        q = db.queue("q")
        for _ in range(3):
            with pytest.raises(CorruptDatabaseError):
                while q.claim_batch("w", 500):
                    pass
    finally:
        db.close()


# -- an SQLite that is too old --------------------------------------------------------


def test_sqlite_too_old_is_refused_at_open(monkeypatch: pytest.MonkeyPatch, db_path: str) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 37, 2))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.37.2")
    with pytest.raises(DatabaseError, match=r"needs SQLite >= 3\.38\.0.*has 3\.37\.2") as info:
        honker.open(db_path)
    assert isinstance(info.value, RuntimeError)
    assert not os.path.exists(db_path), "nothing may be created before the check"


def test_small_fs_is_a_small_separate_filesystem(small_fs: Path | None) -> None:
    """The tmpfs is really a separate, small filesystem (or the fallback is used)."""
    if small_fs is not None:
        assert shutil.disk_usage(small_fs).total <= 4 * 2**20
