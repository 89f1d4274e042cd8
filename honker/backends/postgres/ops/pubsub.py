"""The PostgreSQL notification and stream operations (statements of ``sql/pubsub.sql``).

Semantics (the same as SQLite's, honker/backends/sqlite/engine/pubsub.py and
streams.py):

- notification ids come from one counter shared by every channel, stream
  offsets from one shared by every topic, so a channel's ids (a topic's
  offsets) have gaps;
- within one channel (topic) they become visible in id order, whatever order
  concurrent producers commit in: each producer draws its id under a
  transaction-scoped advisory lock on the channel (topic), held to its commit
  (migrations/002_pubsub.sql). A reader that delivered id ``n`` therefore never
  misses a row below ``n`` that commits later. The price: producers of one
  channel (topic) run one at a time from their first notify/publish to commit;
- the payload is stored as the API layer's JSON text, byte for byte; wake-ups
  go through the change feed's empty NOTIFY (``changes.py``) and readers fetch
  rows by id, so NOTIFY's 8000-byte limit does not bound a payload.
"""

from __future__ import annotations

from typing import Any

from ...._marshal import I64_MAX
from ...base import EventRow
from ._base import OpsBase


class PubSubOps(OpsBase):
    __slots__ = ()

    # -- notifications ----------------------------------------------------------
    def notify(self, channel: str, payload: str) -> int:
        """Insert one notification (in commit order per channel); its id."""
        ((row_id,),) = self._rows("notify", channel=channel, payload=payload)
        return int(row_id)

    def notify_max_id(self, channel: str) -> int:
        """The newest committed notification id of ``channel`` (0 when there is none)."""
        ((max_id,),) = self._rows("notify_max_id", channel=channel)
        return int(max_id)

    def notify_since(self, channel: str, after_id: int) -> list[tuple[int, str, str, int]]:
        """Rows ``(id, channel, payload, created_at)`` of ``channel`` with ``id > after_id``."""
        rows = self._rows("notify_since", channel=channel, after_id=after_id)
        return [(int(i), c, p, int(t)) for i, c, p, t in rows]

    def prune_notifications(self, older_than_s: int | None, max_keep: int | None) -> int:
        """Delete notifications older than ``older_than_s`` OR beyond the newest ``max_keep``.

        ``max_keep`` above 2**63-1 contributes no condition (honker's behaviour).
        """
        if max_keep is not None and max_keep > I64_MAX:
            max_keep = None
        if older_than_s is None and max_keep is None:
            return 0
        ((gone,),) = self._rows("notify_prune", older_s=older_than_s, keep=max_keep)
        return int(gone)

    # -- streams ------------------------------------------------------------------
    def publish(self, topic: str, key: str | None, payload: str) -> int:
        """Append an event (in commit order per topic); its offset."""
        ((offset,),) = self._rows("stream_publish", topic=topic, key=key, payload=payload)
        return int(offset)

    def read_since(self, topic: str, offset: int, limit: int) -> list[EventRow]:
        """Events of ``topic`` after ``offset``, in offset order; negative ``limit`` = all."""
        rows = self._rows("stream_read_since", topic=topic, offset=offset, limit=limit)
        return [(int(t), k, int(o), p, tp) for t, k, o, p, tp in rows]

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        """1 if the offset was inserted or moved forward; never moves it back."""
        return self._count("stream_save_offset", consumer=consumer, topic=topic, offset=offset)

    def get_offset(self, consumer: str, topic: str) -> int:
        """The saved offset, or 0."""
        rows = self._rows("stream_get_offset", consumer=consumer, topic=topic)
        return int(rows[0][0]) if rows else 0

    def stream_lags(self) -> list[dict[str, Any]]:
        """Per topic and consumer: ``topic``, ``consumer``, ``offset``, ``max_offset``, ``lag``.

        As ``stream_lags`` of honker/backends/sqlite/inspect.py: ``lag`` counts
        the topic's events after the saved offset; a topic nobody consumes is
        listed once with ``consumer`` None and its whole length as lag; sorted
        by topic, the unconsumed row first, then by consumer (Python's string
        order, not the database's collation).
        """
        out = [
            {
                "topic": topic,
                "consumer": name,
                "offset": int(offset),
                "max_offset": int(max_offset),
                "lag": int(lag),
            }
            for topic, name, offset, max_offset, lag in self._rows("stream_lags")
        ]
        out.sort(key=lambda r: (r["topic"], r["consumer"] is not None, r["consumer"] or ""))
        return out
