"""Streams: publish, offsets, subscribe and auto-save, Event (docs/spec/python-api.md §12,
docs/spec/engine.md §4.6/§5.3, sharp edge 16)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from helpers import within

import honker
from honker._stream import Event, Stream, StreamIterator


def _rows(db, topic: str) -> list[dict]:
    return db.query(
        'SELECT "offset", topic, key, payload FROM _honker_stream'
        ' WHERE topic = ? ORDER BY "offset"',
        [topic],
    )


async def _take(it: StreamIterator, n: int) -> list[Event]:
    out = []
    async for ev in it:
        out.append(ev)
        if len(out) == n:
            break
    return out


# -- db.stream and publish --------------------------------------------------------


def test_stream_is_memoised_and_does_no_database_work(db):
    with db.transaction() as tx:
        s = db.stream("orders")  # inside a transaction: must not need the writer
        tx.execute("CREATE TABLE t (x INTEGER)")  # both dialects
    assert db.stream("orders") is s
    assert isinstance(s, Stream)
    assert (s.db, s.name) == (db, "orders")


def test_publish_stores_json_text_and_returns_none(db):
    s = db.stream("orders")
    assert s.publish({"n": 1}) is None
    s.publish("x", key="k1")
    s.publish(None)
    rows = _rows(db, "orders")
    assert [r["payload"] for r in rows] == ['{"n": 1}', '"x"', "null"]
    assert [r["key"] for r in rows] == [None, "k1", None]


def test_publish_rejects_bad_key_and_payload_writing_nothing(db):
    s = db.stream("orders")
    with pytest.raises(TypeError):
        s.publish({"n": 1}, key=5)
    with pytest.raises(TypeError):
        s.publish({"n": object()})
    assert _rows(db, "orders") == []


def test_publish_joins_the_callers_transaction(db):
    s = db.stream("orders")
    with db.transaction() as tx:
        s.publish({"n": 1}, tx=tx)
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            s.publish({"n": 2}, tx=tx)
            1 / 0  # noqa: B018
    assert [r["payload"] for r in _rows(db, "orders")] == ['{"n": 1}']


def test_publish_through_a_foreign_tx_object_uses_the_sql_function(db):
    s = db.stream("orders")

    class Foreign:  # anything with query(sql, params), as honker documents
        def __init__(self, tx):
            self.tx = tx
            self.sql = []

        def query(self, sql, params):
            self.sql.append(sql)
            return self.tx.query(sql, params)

    with db.transaction() as tx:
        foreign = Foreign(tx)
        s.publish([1, 2], key="k", tx=foreign)
    assert "honker_stream_publish" in foreign.sql[0]
    assert [(r["key"], r["payload"]) for r in _rows(db, "orders")] == [("k", "[1, 2]")]


def test_offsets_are_global_across_topics(db):
    a, b = db.stream("a"), db.stream("b")
    a.publish(1)
    b.publish(2)
    a.publish(3)
    assert [r["offset"] for r in a._read_since(0)] == [1, 3]
    assert [r["offset"] for r in b._read_since(0)] == [2]
    (row,) = a._read_since(1)
    assert row == {
        "created_at": row["created_at"],
        "key": None,
        "offset": 3,
        "payload": "3",
        "topic": "a",
    }
    assert a._read_since(0, limit=1)[0]["offset"] == 1


# -- offsets --------------------------------------------------------------------


def test_get_offset_defaults_to_zero_and_save_is_monotonic(db):
    s = db.stream("orders")
    assert s.get_offset("c") == 0
    assert s.save_offset("c", 5) is None
    s.save_offset("c", 3)  # lower: ignored
    assert s.get_offset("c") == 5
    s.save_offset("c", 9)
    assert s.get_offset("c") == 9
    assert db.stream("other").get_offset("c") == 0  # per (consumer, topic)


def test_offset_helpers_are_their_own_write_transactions(db):
    s = db.stream("orders")
    with db.transaction():
        with pytest.raises(RuntimeError, match="nested"):
            s.get_offset("c")


# -- subscribe ------------------------------------------------------------------


async def test_subscribe_yields_in_order_across_read_batches(db):
    s = db.stream("big")
    with db.transaction() as tx:
        for i in range(2500):
            s.publish(i, tx=tx)
    it = s.subscribe()
    try:
        events = await within(_take(it, 2500))
    finally:
        it.close()
    assert [e.payload for e in events] == list(range(2500))
    offsets = [e.offset for e in events]
    assert offsets == sorted(offsets)


async def test_subscribe_start_points(db):
    s = db.stream("orders")
    for i in range(5):
        s.publish(i)
    s.save_offset("c", 2)

    it = s.subscribe(consumer="c")  # saved offset, read at call time
    s.save_offset("c", 4)  # too late to matter for `it`
    from_saved = s.subscribe(from_offset=3, consumer="c")
    try:
        assert [e.offset for e in await within(_take(it, 3))] == [3, 4, 5]
        assert [e.offset for e in await within(_take(from_saved, 2))] == [4, 5]
    finally:
        it.close()
        from_saved.close()


async def test_subscribe_subscribes_at_construction(db):
    it = db.stream("orders").subscribe()
    try:
        assert it._updates.path == db.path
    finally:
        it.close()


async def test_subscriber_wakes_for_an_event_published_by_another_thread(db, open_db, db_path):
    other = open_db(db_path)
    it = db.stream("live").subscribe()
    try:
        got = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0)  # let it find the stream empty and wait
        t = threading.Thread(target=other.stream("live").publish, args=({"hello": 1},))
        t.start()
        event = await within(got, 5)
        t.join()
    finally:
        it.close()
    assert event.payload == {"hello": 1}


@pytest.mark.parametrize(
    ("every_n", "yielded", "saved_index"), [(10, 25, 20), (5, 12, 10), (1, 3, 2)]
)
async def test_autosave_every_n_flushes_before_next(db, every_n, yielded, saved_index):
    s = db.stream("orders")
    for i in range(30):  # interleaved topics: this stream's offsets have gaps
        s.publish(i)
        db.stream("noise").publish(i)
    it = s.subscribe(consumer="c", save_every_n=every_n, save_every_s=0)
    try:
        events = await within(_take(it, yielded))
    finally:
        it.close()
    assert s.get_offset("c") == events[saved_index - 1].offset


async def test_autosave_every_s_uses_the_iterators_clock(db):
    s = db.stream("orders")
    for i in range(10):
        s.publish(i)
    now = [100.0]
    it = s.subscribe(consumer="c", save_every_n=0, save_every_s=1.0)
    it._clock = lambda: now[0]
    it._last_save = now[0]
    try:
        first = await within(_take(it, 3))
        assert s.get_offset("c") == 0  # less than a second: nothing saved
        now[0] += 1.0
        await within(_take(it, 1))  # flushes the 3rd event's offset first
        assert s.get_offset("c") == first[2].offset
    finally:
        it.close()


@pytest.mark.parametrize(
    ("n", "secs", "consumer"), [(0, 0, "c"), (-5, -1.0, "c"), (1, 0, None), (1, 0, "")]
)
async def test_autosave_disabled(db, n, secs, consumer):
    s = db.stream("orders")
    for i in range(5):
        s.publish(i)
    it = s.subscribe(consumer=consumer, save_every_n=n, save_every_s=secs)
    try:
        await within(_take(it, 5))
    finally:
        it.close()
    assert db.query("SELECT COUNT(*) AS n FROM _honker_stream_consumers")[0]["n"] == 0


async def test_tail_is_not_saved_while_idle_and_replays_after_restart(db):
    s = db.stream("orders")
    for i in range(7):
        s.publish(i)
    it = s.subscribe(consumer="c", save_every_n=3, save_every_s=0)
    try:
        await within(_take(it, 7))
        waiting = asyncio.ensure_future(it.__anext__())
        for _ in range(3):
            await asyncio.sleep(0)  # let it go idle: no flush happens while waiting
        assert s.get_offset("c") == 6
        waiting.cancel()
    finally:
        it.close()
    again = s.subscribe(consumer="c")
    try:
        assert [e.payload for e in await within(_take(again, 1))] == [6]
    finally:
        again.close()


# -- Event ----------------------------------------------------------------------


def test_event_from_row_repr_and_lazy_strict_payload():
    ev = Event({"offset": 7, "topic": "t", "key": "k", "payload": '{"a": [1]}', "created_at": 5})
    assert (ev.offset, ev.topic, ev.key, ev.created_at) == (7, "t", "k", 5)
    assert repr(ev) == "Event(offset=7, topic='t', key='k', payload={'a': [1]})"
    assert Event({"offset": 1, "topic": "t", "key": None, "payload": ""}).payload is None
    bad = Event({"offset": 1, "topic": "t", "key": None, "payload": "not json"})
    with pytest.raises(json.JSONDecodeError):
        bad.payload  # noqa: B018
    with pytest.raises(AttributeError):
        ev.extra = 1  # __slots__


def test_public_names_resolve():
    assert honker.Stream is Stream
    assert honker.Event is Event
