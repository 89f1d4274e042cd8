"""``honker.open()`` and :class:`Database`: the public facade over a backend.

The Database holds one storage backend (``honker/backends/``: SQLite today)
and hands out the features (queues, streams, listeners, locks, ...), each of
which lives in its own module and reaches storage only through the backend's
operations (``honker/backends/base.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _marshal
from ._errors import ConfigError
from ._marshal import UNSET
from ._outbox import DEFAULT_BASE_BACKOFF_S as DEFAULT_OUTBOX_BASE_BACKOFF_S
from ._outbox import DEFAULT_MAX_ATTEMPTS as DEFAULT_OUTBOX_MAX_ATTEMPTS
from ._outbox import DEFAULT_VISIBILITY_TIMEOUT_S as DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S
from .backends import open_backend
from .backends.base import Backend, Changes, Ops

if TYPE_CHECKING:
    from ._lock import _Lock
    from ._notify import Listener
    from ._outbox import Outbox
    from ._queue import Queue
    from ._stream import Stream

T = TypeVar("T")


class Database:
    """An open honker database: its backend (the writer, the readers and the
    watcher) and the feature handles.

    Obtain it with :func:`honker.open`. Safe to share between threads: writes
    serialize on the backend's single writer slot.
    """

    def __init__(
        self,
        path: str,
        max_readers: int = 8,
        watcher_backend: str | None = None,
        watcher_poll_interval_ms: float | None = None,
        *,
        synchronous: str = "NORMAL",
        history: bool = True,
    ) -> None:
        self._queues: dict[str, Queue] = {}
        self._streams: dict[str, Stream] = {}
        self._outboxes: dict[str, Outbox] = {}
        self._backend: Backend = open_backend(
            path,
            max_readers,
            watcher_backend,
            watcher_poll_interval_ms,
            synchronous=synchronous,
            history=history,
        )
        self.path: str = self._backend.path
        # ``fn(ops)`` in a write transaction of its own (``single``: ``fn``
        # runs one single-statement operation; see ``Backend.write``): the
        # backend's method itself, one call less on every write.
        self._write = self._backend.write

    @property
    def _inner(self) -> Database:
        return self  # honker's tests call db._inner.close()

    @property
    def _tx_depth(self) -> int:
        return int(self._backend.in_transaction())

    def _read(self, fn: Callable[[Ops], T]) -> T:
        """``fn(ops)`` on a reader (committed data, no write lock)."""
        return self._backend.read(fn)

    def transaction(self) -> Any:
        """A write transaction: ``with db.transaction() as tx: ...``.

        Semantics:
        - ``BEGIN IMMEDIATE``: takes SQLite's write lock at once (waits up to
          the 5 s busy timeout for other processes);
        - commits when the block ends normally, rolls back on an exception
          (which propagates);
        - one per thread: opening a second on the same thread raises
          ``RuntimeError`` (pass ``tx=`` to helpers instead); other threads
          wait for the slot.
        """
        return self._backend.transaction()

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """Run one statement on a pooled reader connection; rows as dicts.

        Semantics: does not see the uncommitted writes of an open transaction;
        the honker SQL functions are not available here.
        """
        return self._backend.query(sql, params)

    def update_events(self) -> Changes:
        """Subscribe to "something committed" ticks (an async iterator of None)."""
        return self._backend.changes()

    def close(self) -> None:
        """Stop the watcher, close every connection. Idempotent.

        Semantics: waiting iterators raise the watcher-died ``RuntimeError``;
        a transaction open on another thread finishes first and then its
        connection closes; later use raises ``Database is closed``.
        """
        backend = getattr(self, "_backend", None)
        if backend is not None:
            backend.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  interpreter shutdown: best effort
            pass

    # -- features (each lives in its own module) ------------------------------
    def queue(
        self, name: str, visibility_timeout_s: Any = UNSET, max_attempts: Any = UNSET
    ) -> Queue:
        """The queue ``name`` (memoised per Database; see :class:`honker.Queue`)."""
        from ._queue import open_queue

        return open_queue(self, name, visibility_timeout_s, max_attempts)

    def listen(self, channel: str, fallback_poll_s: float | None = 15.0) -> Listener:
        """Listen for notifications on ``channel`` committed from now on."""
        from ._notify import Listener

        return Listener(self, channel, fallback_poll_s)

    def prune_notifications(
        self, older_than_s: float | None = None, max_keep: int | None = None
    ) -> int:
        """Delete notifications older than ``older_than_s`` OR beyond the newest ``max_keep``."""
        if max_keep is not None:
            max_keep = _marshal.int_arg("max_keep", max_keep, bounded=False)  # huge: no limit
            if max_keep < 0:
                raise ConfigError("max_keep must not be negative")
        if older_than_s is None and max_keep is None:
            return 0
        older = None
        if older_than_s is not None:
            older = _marshal.duration_arg("older_than_s", older_than_s)
        # Through the public transaction(), so the newest id is read inside the
        # same write transaction as the delete, and code that wraps
        # transaction() sees the prune (honker's regression test for a
        # prune that read the newest id before taking the write lock).
        with self.transaction() as tx:
            return self._backend.run_in(tx, lambda o: o.prune_notifications(older, max_keep))

    def stream(self, name: str) -> Stream:
        from ._stream import Stream

        s = self._streams.get(_marshal.str_arg("stream name", name))
        if s is None:
            s = self._streams[name] = Stream(self, name)
        return s

    def outbox(
        self,
        name: str,
        delivery: Callable[[Any], Any],
        max_attempts: int = DEFAULT_OUTBOX_MAX_ATTEMPTS,
        base_backoff_s: int = DEFAULT_OUTBOX_BASE_BACKOFF_S,
        visibility_timeout_s: int = DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S,
    ) -> Outbox:
        from ._outbox import open_outbox

        return open_outbox(self, name, delivery, max_attempts, base_backoff_s, visibility_timeout_s)

    def lock(self, name: str, ttl: int = 60, owner: str | None = None) -> _Lock:
        from ._lock import _Lock

        return _Lock(self, name, ttl, owner)

    def try_rate_limit(self, name: str, limit: int, per: int) -> bool:
        from ._ratelimit import try_rate_limit

        return try_rate_limit(self, name, limit, per)

    def sweep_rate_limits(self, older_than_s: int = 3600) -> int:
        from ._ratelimit import sweep_rate_limits

        return sweep_rate_limits(self, older_than_s)

    def task(self, queue: str = "default", **kwargs: Any) -> Any:
        return self.queue(queue).task(**kwargs)

    def periodic_task(self, schedule: Any, queue: str = "default", **kwargs: Any) -> Any:
        return self.queue(queue).periodic_task(schedule, **kwargs)

    async def run_workers(
        self, queue: str | None = None, concurrency: int | None = None, stop_event: Any = None
    ) -> None:
        from ._worker import run_workers

        await run_workers(self, queue=queue, concurrency=concurrency, stop_event=stop_event)


def open(  # noqa: A001  honker's public name
    path: str,
    max_readers: int = 8,
    watcher_backend: str | None = None,
    watcher_poll_interval_ms: float | None = None,
    *,
    synchronous: str = "NORMAL",
    history: bool = True,
) -> Database:
    """Open (creating if needed) a honker database file.

    ``path`` may also be a ``postgresql://`` (or ``postgres://``) URL: the
    same API on a PostgreSQL server (extra ``honker-py[postgres]``; the
    SQLite-only options below are refused there; docs/postgres.md).

    Semantics:
    - applies honker's PRAGMAs (WAL, synchronous=NORMAL, busy_timeout 5 s, ...)
      and installs the schema in a ``BEGIN IMMEDIATE`` transaction;
    - ``watcher_backend``: None (the default: ``"kernel"`` on Linux, else
      ``"polling"``), ``"polling"``/``"poll"``, ``"kernel"``/``"kernel-watcher"``,
      ``"shm"``/``"shm-fast-path"``; an explicit backend that cannot work here
      raises ``RuntimeError("watcher_backend probe failed: ...")``;
    - ``watcher_poll_interval_ms``: the polling and shm backends' cadence
      (default 1);
    - ``synchronous`` (keyword-only, not in honker): ``"NORMAL"`` (honker's
      setting: a commit survives a process crash, the last commits before an
      OS crash or power loss may be lost), or ``"FULL"``/``"EXTRA"`` to fsync
      every commit so it also survives power loss, at a cost in commit rate;
    - ``history`` (keyword-only, not in honker): count completed, failed and
      retried jobs per queue per minute (``Queue.throughput()``,
      docs/operate.md); ``False`` turns the counters off.

    Raises ``RuntimeError`` subclasses with SQLite's message for a path that
    cannot be opened, a file that is not a database, or a read-only file.

    Example::

        db = honker.open("app.db")
        q = db.queue("emails")
        q.enqueue({"to": "alice@example.com"})
    """
    return Database(
        path,
        max_readers,
        watcher_backend,
        watcher_poll_interval_ms,
        synchronous=synchronous,
        history=history,
    )
