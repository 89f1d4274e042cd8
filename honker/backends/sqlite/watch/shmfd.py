"""Process-wide read-only descriptors on ``-shm`` files, for the shm backend.

On POSIX, closing *any* descriptor of an inode drops *every* fcntl lock the
process holds on it, including SQLite's WAL-index and DMS locks (honker issue
#80, docs/spec/engine.md §8.4). So this module opens each ``-shm`` inode at most once per
process, shares the descriptor between watchers, finds an existing one with
``stat()`` before any ``open()``, and closes a descriptor only once its inode
has no name left (``st_nlink == 0``) and no watcher uses it.
"""

from __future__ import annotations

import os
import threading

MAX_OPEN = 256

_lock = threading.Lock()
# (st_dev, st_ino) -> [fd, users]
_fds: dict[tuple[int, int], list[int]] = {}


class TooManyShmFiles(OSError):
    """More than MAX_OPEN distinct -shm files are held open by this process."""


def acquire(path: str) -> tuple[tuple[int, int], int]:
    """A shared descriptor on ``path``'s current inode: ``(identity, fd)``.

    Raises ``OSError`` when the file does not exist or cannot be opened.
    """
    with _lock:
        _reap_unlinked()
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        entry = _fds.get(key)
        if entry is not None:
            entry[1] += 1
            return key, entry[0]
        if len(_fds) >= MAX_OPEN:
            raise TooManyShmFiles(f"refusing to hold more than {MAX_OPEN} -shm descriptors")
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        st2 = os.fstat(fd)
        key2 = (st2.st_dev, st2.st_ino)
        if key2 != key:
            # The file was replaced between stat and open. Keep the descriptor
            # (closing it could drop locks on key2); account it under key2.
            existing = _fds.get(key2)
            if existing is not None:
                existing[1] += 1
                _leaked.append(fd)  # never closed: a duplicate of a live inode
                return key2, existing[0]
            key = key2
        _fds[key] = [fd, 1]
        return key, fd


_leaked: list[int] = []


def release(key: tuple[int, int]) -> None:
    """Stop using ``key``'s descriptor (it stays open while the inode has a name)."""
    with _lock:
        entry = _fds.get(key)
        if entry is not None:
            entry[1] -= 1
        _reap_unlinked()


def reap() -> None:
    """Close the unused descriptors of inodes that no longer have a name."""
    with _lock:
        _reap_unlinked()


def _reap_unlinked() -> None:
    for key, (fd, users) in list(_fds.items()):
        if users > 0:
            continue
        try:
            nlink = os.fstat(fd).st_nlink
        except OSError:
            nlink = 0
        if nlink == 0:
            # No name is left, so no SQLite connection can open this inode
            # again; any still holding it locked would also hold it open, and
            # st_nlink == 0 means SQLite itself already unlinked it.
            os.close(fd)
            del _fds[key]


def held() -> dict[tuple[int, int], int]:
    """Identity → descriptor of every -shm file held (for tests)."""
    with _lock:
        return {k: v[0] for k, v in _fds.items()}
