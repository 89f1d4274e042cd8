"""Pub/sub: ``tx.notify()`` and ``db.listen()`` (docs/spec/python-api.md §8).

Notifications are rows in ``_honker_notifications``; a listener remembers the
last id it delivered and re-reads after every commit tick. Like ``pg_notify``
there is no replay: a listener starts at the channel's newest id when it is
created.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from ._marshal import loads
from ._waiting import Wait, until

if TYPE_CHECKING:
    from ._database import Database


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
        channel, after = self.channel, self._last_seen
        rows = self.db._read(lambda o: o.notify_since(channel, after))
        if rows:
            self._buffer.extend(Notification(r) for r in rows)
            self._last_seen = rows[-1][0]
            return True
        return Wait(self.fallback_poll_s)

    def close(self) -> None:
        """Unsubscribe (also happens on garbage collection)."""
        self._updates.close()
