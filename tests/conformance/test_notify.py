"""Pub/sub: tx.notify, db.listen, Notification and prune_notifications
(docs/spec/python-api.md §8; docs/spec/engine.md §4.1, §5.2)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from typing import Any

import pytest
from helpers import sql, within

import honker


def _notify(db: honker.Database, channel: str, *payloads: object) -> list[int]:
    with db.transaction() as tx:
        return [tx.notify(channel, p) for p in payloads]


async def _take(listener: honker.Listener, n: int) -> list[honker.Notification]:
    return [await within(anext(listener)) for _ in range(n)]


def _ids(db: honker.Database) -> list[int]:
    return [r["id"] for r in db.query("SELECT id FROM _honker_notifications ORDER BY id")]


# -- listen -----------------------------------------------------------------------------


async def test_no_replay_of_history(db: honker.Database) -> None:
    _notify(db, "ch", "old")
    listener = db.listen("ch")
    _notify(db, "ch", "new")
    (n,) = await _take(listener, 1)
    assert n.payload == "new"


async def test_cursor_is_taken_at_listen_time_not_first_iteration(db: honker.Database) -> None:
    listener = db.listen("ch", fallback_poll_s=None)
    (first,) = _notify(db, "ch", 1)
    assert listener._last_seen < first
    (n,) = await _take(listener, 1)
    assert n.id == first


async def test_listener_attributes(db: honker.Database) -> None:
    listener = db.listen("ch", fallback_poll_s=2.5)
    assert isinstance(listener, honker.Listener)
    assert (listener.db, listener.channel, listener.fallback_poll_s) == (db, "ch", 2.5)
    assert listener.__aiter__() is listener
    assert isinstance(listener._buffer, deque)
    assert listener._updates.path
    assert db.listen("ch").fallback_poll_s == 15.0


async def test_order_no_duplicates_and_channel_filter(db: honker.Database) -> None:
    listener = db.listen("ch")
    sent: list[int] = []
    for batch in range(5):
        sent += _notify(db, "ch", *[f"{batch}-{i}" for i in range(4)])
        _notify(db, "other", "noise")
    got = await _take(listener, len(sent))
    assert [n.id for n in got] == sent
    assert [n.payload for n in got] == [f"{b}-{i}" for b in range(5) for i in range(4)]
    assert {n.channel for n in got} == {"ch"}
    late = asyncio.create_task(anext(listener))
    await asyncio.sleep(0)
    assert not late.done(), "nothing left to deliver"
    (last,) = _notify(db, "ch", "last")
    assert (await within(late)).id == last


async def test_rolled_back_notify_is_never_delivered(db: honker.Database) -> None:
    listener = db.listen("ch")
    with pytest.raises(ValueError):
        with db.transaction() as tx:
            tx.notify("ch", "dropped")
            raise ValueError
    _notify(db, "ch", "kept")
    (n,) = await _take(listener, 1)
    assert n.payload == "kept"


async def test_notify_from_another_thread_wakes_a_listener(db: honker.Database) -> None:
    listener = db.listen("ch", fallback_poll_s=None)
    pending = asyncio.create_task(anext(listener))
    await asyncio.sleep(0)
    assert not pending.done()
    t = threading.Thread(target=_notify, args=(db, "ch", {"from": "thread"}))
    t.start()
    assert (await within(pending)).payload == {"from": "thread"}
    t.join()


async def test_payload_decoding(db: honker.Database) -> None:
    listener = db.listen("ch")
    _notify(db, "ch", {"a": [1, 2]}, "text", None, 0, "")
    with db.transaction() as tx:
        for raw in ("not json", "", "null", "{broken", "42"):
            tx.query("SELECT notify('ch', ?)", [raw])
    got = [n.payload for n in await _take(listener, 10)]
    assert got == [{"a": [1, 2]}, "text", None, 0, "", "not json", None, None, "{broken", 42]


def test_listen_needs_no_event_loop_and_works_inside_a_transaction(db: honker.Database) -> None:
    with db.transaction() as tx:
        tx.notify("ch", "before")
        listener = db.listen("ch")
    assert listener._last_seen == 0, "the uncommitted row was not visible at listen time"


def test_notification_object() -> None:
    n = honker.Notification({"id": 3, "channel": "ch", "payload": '{"x": 1}'})
    assert (n.id, n.channel, n.created_at, n.payload) == (3, "ch", 0, {"x": 1})
    assert repr(n) == "Notification(id=3, channel='ch')"
    assert honker.Notification({"id": 1, "channel": "c", "payload": None}).payload is None


async def test_queue_channels_yield_nothing(db: honker.Database) -> None:
    listener = db.listen("honker:q")
    db.queue("q").enqueue(1)
    _notify(db, "honker:q", "real")
    (n,) = await _take(listener, 1)
    assert n.payload == "real", "the enqueue wrote no notification row"


async def test_pruned_rows_are_skipped(db: honker.Database) -> None:
    listener = db.listen("ch")
    _notify(db, "ch", 1, 2)
    db.prune_notifications(max_keep=0)
    (kept,) = _notify(db, "ch", 3)
    (n,) = await _take(listener, 1)
    assert n.id == kept


# -- prune_notifications ------------------------------------------------------------------


def test_prune_with_neither_argument_touches_nothing(db_path: str) -> None:
    db = honker.open(db_path)
    _notify(db, "ch", 1)
    assert db.prune_notifications() == 0
    db.close()
    assert db.prune_notifications() == 0, "no DB access at all"


def test_prune_by_count_is_database_wide(db: honker.Database) -> None:
    ids = []
    for channel in ("a", "b", "a", "b", "c"):
        ids += _notify(db, channel, channel)
    assert db.prune_notifications(max_keep=2) == 3
    assert _ids(db) == ids[-2:]
    assert db.prune_notifications(max_keep=2) == 0
    assert db.prune_notifications(max_keep=5) == 0, "fewer rows than max_keep + 1"


def test_prune_by_count_is_gap_safe(db: honker.Database) -> None:
    ids = _notify(db, "ch", *range(10))
    sql(db, "DELETE FROM _honker_notifications WHERE id IN (?, ?, ?)", ids[6], ids[7], ids[8])
    assert db.prune_notifications(max_keep=3) == 4
    assert _ids(db) == [ids[4], ids[5], ids[9]], "keeps the 3 newest rows, not the top 3 ids"


def test_prune_max_keep_zero_deletes_everything(db: honker.Database) -> None:
    _notify(db, "ch", 1, 2, 3)
    assert db.prune_notifications(max_keep=0.9) == 3
    assert _ids(db) == []


def test_prune_rejects_negative_and_ignores_huge_max_keep(db: honker.Database) -> None:
    _notify(db, "ch", 1, 2)
    with pytest.raises(ValueError) as info:
        db.prune_notifications(max_keep=-1)
    assert str(info.value) == "max_keep must not be negative"
    assert db.prune_notifications(max_keep=2**63) == 0
    assert db.prune_notifications(max_keep=2**63 - 1) == 0
    assert len(_ids(db)) == 2


def test_prune_by_age_or_count(db: honker.Database) -> None:
    ids = _notify(db, "ch", *range(6))
    sql(db, "UPDATE _honker_notifications SET created_at = unixepoch() - 100 WHERE id <= ?", ids[1])
    sql(db, "UPDATE _honker_notifications SET created_at = unixepoch() - 50 WHERE id = ?", ids[2])
    assert db.prune_notifications(older_than_s=60) == 2, "created_at < now - older_than_s"
    assert _ids(db) == ids[2:]
    # Both given: a row matching either condition goes (OR).
    assert db.prune_notifications(older_than_s=40, max_keep=100) == 1, "age alone"
    assert _ids(db) == ids[3:]
    assert db.prune_notifications(older_than_s=1000, max_keep=1) == 2, "count alone"
    assert _ids(db) == ids[5:]


@pytest.mark.parametrize("patch", ["instance", "class"])
def test_prune_sees_a_notification_committed_as_its_transaction_begins(
    db: honker.Database, monkeypatch: pytest.MonkeyPatch, patch: str
) -> None:
    """honker's regression (test_prune_notifications_sees_insert_before_write_transaction):
    the prune reads the newest id inside the write transaction it deletes in,
    and begins it through the public ``transaction()``, so a notification
    committed at that moment counts toward ``max_keep``."""
    _notify(db, "ch", "one", "two", "three")
    real = honker.Database.transaction
    calls: list[str] = []

    def transaction(self: honker.Database) -> Any:
        if not calls:
            calls.append("competing")
            with real(self) as tx:
                tx.notify("ch", "four")
        return real(self)

    if patch == "instance":
        monkeypatch.setattr(db, "transaction", transaction.__get__(db))
    else:
        monkeypatch.setattr(honker.Database, "transaction", transaction)
    assert db.prune_notifications(max_keep=2) == 2
    assert calls == ["competing"]
    rows = db.query("SELECT payload FROM _honker_notifications ORDER BY id")
    assert [json.loads(r["payload"]) for r in rows] == ["three", "four"]


async def test_many_listeners_share_reads_and_miss_nothing(db: honker.Database) -> None:
    """Listeners of one channel share one read per wake-up (honker/_notify.py,
    _since): under a producer committing as fast as it can, on two channels,
    every listener still gets every notification of its channel, in order, once."""
    total = 400
    fan = [db.listen("fan") for _ in range(30)]
    other = [db.listen("other") for _ in range(5)]

    def produce() -> None:
        for i in range(total):
            with db.transaction() as tx:
                tx.notify("fan", i)
                if i % 2:
                    tx.notify("other", -i)

    async def drain(listener: honker.Listener, n: int) -> list[int]:
        got = []
        async for note in listener:
            got.append(note.payload)
            if len(got) == n:
                return got
        raise AssertionError("the listener ended")

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        results = await within(
            asyncio.gather(
                *(drain(li, total) for li in fan), *(drain(li, total // 2) for li in other)
            ),
            60,
        )
    finally:
        producer.join()
    for got in results[: len(fan)]:
        assert got == list(range(total))
    for got in results[len(fan) :]:
        assert got == [-i for i in range(total) if i % 2]
