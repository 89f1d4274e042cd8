"""Durable streams with per-consumer offsets (docs/spec/python-api.md §12, docs/spec/engine.md
§5.3).

A stream is the rows of ``_honker_stream`` whose ``topic`` is the stream's
name. Offsets come from one AUTOINCREMENT counter shared by every topic, so a
topic's offsets have gaps and ``from_offset`` is a global offset. Consumers
remember how far they got in ``_honker_stream_consumers``; saves never move an
offset backwards.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _txjoin
from ._errors import ParameterError
from ._marshal import NOT_DECODED, StrictPayload, int_arg, json_payload
from ._waiting import Wait, until
from .backends.base import EVENT_COLUMNS, EventRow

if TYPE_CHECKING:
    from ._database import Database
    from .backends.base import Changes

READ_BATCH = 1000
# Fixed, not configurable, as in honker: a missed tick costs at most this.
FALLBACK_WAIT_S = 15.0


class Stream:
    """A named, append-only event log inside the database file.

    Obtain it with ``db.stream(name)`` (memoised; constructing it does no
    database work, so it is safe inside an open transaction).

    Example::

        orders = db.stream("orders")
        with db.transaction() as tx:
            tx.execute("INSERT INTO orders (id) VALUES (?)", [42])
            orders.publish({"id": 42}, key="42", tx=tx)

        async for event in orders.subscribe(consumer="billing"):
            bill(event.payload)
    """

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    def publish(self, payload: Any, key: str | None = None, tx: Any = None) -> None:
        """Append ``json.dumps(payload)`` to the stream.

        Semantics:
        - with ``tx`` the event commits (or rolls back) with the caller's
          transaction; without it, it is one write transaction of its own;
        - ``key`` is stored as is (the engine does not compact or partition
          by it);
        - returns None: the offset is not reported, as in honker.

        Raises ``TypeError`` for a payload ``json`` cannot encode or a ``key``
        that is not a ``str`` or None; nothing is written then.
        """
        if key is not None and not isinstance(key, str):
            raise ParameterError(f"key must be a str or None, got {type(key).__name__}")
        args = (self.name, key, json_payload(payload))
        _txjoin.run(self.db, tx, lambda o: o.publish(*args), "honker_stream_publish", args)

    def save_offset(self, consumer: str, offset: int) -> None:
        """Record that ``consumer`` has handled everything up to ``offset``.

        Semantics: monotonic; an offset lower than or equal to the saved one
        is ignored, so a consumer cannot be rewound this way.
        """
        topic, at = self.name, int_arg("offset", offset)
        self.db._write(lambda o: o.save_offset(consumer, topic, at))

    def get_offset(self, consumer: str) -> int:
        """The offset ``consumer`` last saved on this stream, or 0."""
        topic = self.name
        return self.db._write(lambda o: o.get_offset(consumer, topic))

    def subscribe(
        self,
        consumer: str | None = None,
        from_offset: int | None = None,
        save_every_n: int = 1000,
        save_every_s: float = 1.0,
    ) -> StreamIterator:
        """An async iterator over this stream's events, in offset order; never ends.

        Semantics:
        - starts after ``from_offset`` if given, else after ``consumer``'s
          saved offset (read now, when ``subscribe`` is called), else from
          the beginning;
        - subscribes to commit ticks at once, so an event committed after
          this call returns is seen; when caught up it waits for a tick (or
          15 s);
        - with ``consumer`` set, the offset of the last yielded event is saved
          just before a *later* event is yielded, once ``save_every_n`` events
          or ``save_every_s`` seconds have passed since the previous save (0
          or negative disables that trigger). Events after the last save are
          delivered again after a restart: at least once, with at most
          ``save_every_n`` replays.

        Example::

            async for ev in db.stream("orders").subscribe(consumer="mailer"):
                send_receipt(ev.payload)
        """
        if from_offset is not None:
            start = int_arg("from_offset", from_offset)
        elif consumer is not None:
            start = self.get_offset(consumer)
        else:
            start = 0
        return StreamIterator(self, consumer, start, save_every_n, save_every_s)

    def _read_rows(self, offset: int, limit: int) -> list[EventRow]:
        topic = self.name
        return self.db._write(lambda o: o.read_since(topic, offset, limit))

    def _read_since(self, offset: int, limit: int = READ_BATCH) -> list[dict[str, Any]]:
        """Up to ``limit`` events after ``offset`` as dicts (one write transaction)."""
        return [
            dict(zip(EVENT_COLUMNS, r, strict=True))
            for r in self._read_rows(int_arg("offset", offset), int_arg("limit", limit))
        ]

    def __repr__(self) -> str:
        return f"Stream(name={self.name!r})"


class StreamIterator:
    """The iterator behind :meth:`Stream.subscribe`.

    ``_clock`` (monotonic seconds) times the ``save_every_s`` trigger; tests
    replace it to move time instead of sleeping.
    """

    def __init__(
        self,
        stream: Stream,
        consumer: str | None,
        offset: int,
        save_every_n: int,
        save_every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.consumer = consumer
        self.save_every_n = max(0, save_every_n)
        self.save_every_s = max(0.0, save_every_s)
        self._offset = offset
        self._buffer: deque[EventRow] = deque()
        self._pending: int | None = None  # offset yielded but not yet saved
        self._since_save = 0
        self._clock = clock
        self._last_save = clock()
        # Subscribe before the first read, so a commit in between is not lost.
        self._updates: Changes = stream.db.update_events()

    def __aiter__(self) -> StreamIterator:
        return self

    async def __anext__(self) -> Event:
        buffer = self._buffer
        if not buffer:
            await until(self._updates, self._refill)
        if self.consumer:
            self._maybe_save()
        event = Event(buffer.popleft())
        self._offset = self._pending = event.offset
        self._since_save += 1
        return event

    def _refill(self) -> bool | Wait:
        rows = self.stream._read_rows(self._offset, READ_BATCH)
        if rows:
            self._buffer.extend(rows)
            return True
        return Wait(FALLBACK_WAIT_S)

    def _maybe_save(self) -> None:
        # Runs just before yielding, never while idle: the events yielded since
        # the last save (the session's tail) are replayed after a restart.
        # Pinned by test_stream.py::test_autosave_every_n_flushes_before_next.
        if self._pending is None:
            return
        due_n = self.save_every_n > 0 and self._since_save >= self.save_every_n
        due_s = self.save_every_s > 0 and self._clock() - self._last_save >= self.save_every_s
        if due_n or due_s:
            self.stream.save_offset(self.consumer, self._pending)  # type: ignore[arg-type]
            self._pending = None
            self._since_save = 0
            self._last_save = self._clock()

    def close(self) -> None:
        """Unsubscribe from commit ticks (also happens on garbage collection)."""
        self._updates.close()


class Event(StrictPayload):
    """One stream event.

    ``payload`` is decoded on first access with strict ``json.loads`` (stored
    empty text gives None; other non-JSON text raises ``JSONDecodeError``).
    """

    __slots__ = ("_payload", "_raw", "created_at", "key", "offset", "topic")

    def __init__(self, row: Any) -> None:
        if type(row) is tuple:  # the iterator's rows, in read_since column order
            self.created_at, self.key, self.offset, self._raw, self.topic = row
        else:  # a dict, as _read_since() returns and honker passes
            self.offset = row["offset"]
            self.topic = row["topic"]
            self.key = row.get("key")
            self.created_at = row.get("created_at", 0)
            self._raw = row.get("payload")
        self._payload: Any = NOT_DECODED

    def __repr__(self) -> str:
        return (
            f"Event(offset={self.offset}, topic={self.topic!r}, key={self.key!r}, "
            f"payload={self.payload!r})"
        )
