"""A minimal inotify binding through ctypes (Linux only), for the kernel backend.

Only what the watcher needs: create an instance, watch a directory, read and
decode events. Watches are made by path; inotify never opens the watched
files, so it cannot disturb SQLite's POSIX locks (docs/spec/engine.md §8.4).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import sys

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# What a commit, a rollback journal's life, or a file replacement can cause.
DIR_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class InotifyUnavailable(OSError):
    """inotify cannot be used on this platform or in this sandbox."""


def _libc() -> ctypes.CDLL:
    if not sys.platform.startswith("linux"):
        raise InotifyUnavailable(errno.ENOSYS, "inotify is Linux-only")
    name = ctypes.util.find_library("c") or "libc.so.6"
    libc = ctypes.CDLL(name, use_errno=True)
    for fn in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
        if not hasattr(libc, fn):
            raise InotifyUnavailable(errno.ENOSYS, f"libc has no {fn}")
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_init1.restype = ctypes.c_int
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_add_watch.restype = ctypes.c_int
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.inotify_rm_watch.restype = ctypes.c_int
    return libc


def names_in(data: bytes, names: set[bytes]) -> bool:
    """True if an event in ``data`` (raw, as read) names a file in ``names``,
    or reports a queue overflow."""
    pos, end = 0, len(data)
    while pos + _HEADER.size <= end:
        _wd, mask, _cookie, length = _HEADER.unpack_from(data, pos)
        pos += _HEADER.size
        if mask & IN_Q_OVERFLOW or data[pos : pos + length].rstrip(b"\0") in names:
            return True
        pos += length
    return False


class Inotify:
    """An inotify instance (non-blocking, close-on-exec) with its watches."""

    def __init__(self) -> None:
        self._libc = _libc()
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise InotifyUnavailable(e, f"inotify_init1: {os.strerror(e)}")
        self.fd = fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_add_watch({path!r}): {os.strerror(e)}")
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Stop a watch (its events stop at once; an IN_IGNORED event is queued)."""
        if self._libc.inotify_rm_watch(self.fd, wd) < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_rm_watch: {os.strerror(e)}")

    def read_names(self, names: set[bytes]) -> bool:
        """Consume queued events; True if one names a file in ``names`` (or the
        queue overflowed). Cheaper than :meth:`read` on the hot path."""
        return names_in(self.read_raw(), names)

    def read_raw(self) -> bytes:
        """Consume queued events (up to 4 KiB: more leaves the descriptor
        readable); their raw bytes, empty if none were queued."""
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        # This descriptor is the inotify instance, not a database file: closing
        # it cannot release SQLite's locks.
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
