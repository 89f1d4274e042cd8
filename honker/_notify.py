"""Pub/sub: ``tx.notify()`` and ``db.listen()`` (docs/spec/python-api.md §8).

Notifications are rows in ``_honker_notifications``; a listener remembers the
last id it delivered and re-reads after every commit tick. Like ``pg_notify``
there is no replay: a listener starts at the channel's newest id when it is
created.
"""

from __future__ import annotations

import bisect
import math
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from ._marshal import loads
from ._waiting import Wait, until

if TYPE_CHECKING:
    from ._database import Database
    from .backends.base import Changes

Row = tuple[int, str, str, int]  # id, channel, payload, created_at


class Notification:
    """One delivered notification."""

    __slots__ = ("id", "channel", "created_at", "_raw", "_payload")

    def __init__(self, row: Any) -> None:
        if type(row) is tuple:  # the listener's rows: (id, channel, payload, created_at)
            self.id, self.channel, self._raw, self.created_at = row
        else:  # a dict, as honker passes
            self.id = row["id"]
            self.channel = row["channel"]
            self.created_at = row.get("created_at", 0)
            self._raw = row.get("payload")
        self._payload: Any = _NOT_DECODED

    @property
    def payload(self) -> Any:
        """Decoded payload; ``None``, ``""`` and ``"null"`` give None; text that
        is not JSON is returned as is."""
        if self._payload is _NOT_DECODED:
            raw = self._raw
            if raw is None or raw == "" or raw == "null":
                value = None
            else:
                try:
                    value = loads(raw)
                except (TypeError, ValueError):
                    value = raw
            self._payload = value
        return self._payload

    def __repr__(self) -> str:
        return f"Notification(id={self.id}, channel={self.channel!r})"


_NOT_DECODED: Any = object()


class Listener:
    """Async iterator of the notifications committed to ``channel`` after creation.

    Semantics:
    - subscribes to commit ticks first, then snapshots the channel's max id,
      so nothing committed after ``db.listen()`` returns is missed;
    - delivers in id order, without duplicates; rows pruned before they are
      read are skipped;
    - waits for a tick, or ``fallback_poll_s`` (None: no fallback);
    - raises the watcher-died ``RuntimeError`` after ``db.close()`` or when
      the file is replaced.

    Example::

        async for n in db.listen("orders"):
            print(n.payload)
    """

    def __init__(self, db: Database, channel: str, fallback_poll_s: float | None = 15.0) -> None:
        self.db = db
        self.channel = channel
        self.fallback_poll_s = fallback_poll_s
        self._updates = db.update_events()
        self._last_seen: int = db._read(lambda o: o.notify_max_id(channel))
        self._buffer: deque[Notification] = deque()

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> Notification:
        if not self._buffer:
            await until(self._updates, self._refill)
        return self._buffer.popleft()

    def _refill(self) -> bool | Wait:
        rows = _since(self.db, self._updates, self.channel, self._last_seen)
        if rows:
            self._buffer.extend(Notification(r) for r in rows)
            self._last_seen = rows[-1][0]
            return True
        return Wait(self.fallback_poll_s)

    def close(self) -> None:
        """Unsubscribe (also happens on garbage collection)."""
        self._updates.close()


# -- one read per change for every listener of a channel ----------------------------
#
# Fan-out: a commit wakes every listener of a Database at once, and each would
# run the same SELECT for its channel. Listeners of one channel share the
# latest read instead, while it is provably complete for them: no wake-up was
# sent and no commit counted since it began (``Changes.generation``), so every
# commit that woke a listener, or that its ``mark()`` saw, was visible to it.
# A listener woken by its fallback timeout (no wake-up: the watcher may have
# missed a commit) reads again once the shared read is FEED_MAX_AGE_S old.
# Guarded by
# tests/conformance/test_notify.py::test_many_listeners_share_reads_and_miss_nothing.
FEED_MAX_AGE_S = 0.05


class _Feed:
    """The latest read of one channel: rows with id > ``after``, begun at ``generation``."""

    __slots__ = ("after", "generation", "read_at", "rows")

    def __init__(self) -> None:
        self.after = 0
        self.generation = -1
        self.read_at = -math.inf
        self.rows: list[Row] = []


# Per-Database state (weakly keyed: it goes with the Database).
_FEEDS: weakref.WeakKeyDictionary[Database, dict[str, _Feed]] = weakref.WeakKeyDictionary()


def _since(db: Database, changes: Changes, channel: str, after: int) -> list[Row]:
    """Rows of ``channel`` with id > ``after``: the shared read, or a new one."""
    feeds = _FEEDS.get(db)
    if feeds is None:
        feeds = _FEEDS[db] = {}
    feed = feeds.get(channel)
    if feed is None:
        feed = feeds[channel] = _Feed()
    generation, now = changes.generation(), time.monotonic()
    if (
        generation >= 0
        and generation == feed.generation
        and feed.after <= after
        and now - feed.read_at < FEED_MAX_AGE_S
    ):
        rows = feed.rows
        return rows[bisect.bisect_right(rows, after, key=_row_id) :]
    rows = db._read(lambda o: o.notify_since(channel, after))
    feed.after, feed.generation, feed.read_at, feed.rows = after, generation, now, rows
    return rows


def _row_id(row: Row) -> int:
    return row[0]
