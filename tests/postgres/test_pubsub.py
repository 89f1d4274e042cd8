"""Notifications and streams on PostgreSQL: commit order, large payloads,
wake-ups across processes, consumer lags (the behaviour shared with SQLite is
in tests/conformance/test_notify.py and test_stream.py).

Commit order: a reader remembers the last id (offset) it delivered and reads
``> last``, so a row that becomes visible after a higher id of its channel
(topic) would be skipped for ever. Producers draw ids under a per-channel
(per-topic) advisory lock held to commit (migrations/002_pubsub.sql); these
tests hold producers' transactions open while others try to commit and check
that a reader sees every row once.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from helpers import spawn_child, wait_until, within

import honker
from honker.backends.sqlite.inspect import Inspector

WAKE_FLOOR_S = 3.0  # far below every fallback (fallback_poll_s=None, safety tick 10 s)
BIG = 20_000  # bytes: above NOTIFY's 8000-byte payload limit


def _waiting_for_order_lock(admin: Any) -> int:
    """Sessions waiting for an advisory lock (a producer queued behind another)."""
    (row,) = admin.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchall()
    return int(row[0])


# -- commit order -------------------------------------------------------------------------

Kind = tuple[
    Callable[[honker.Database, Any, str, int], None],  # produce(db, tx, name, value)
    Callable[[honker.Database, str, int], list[int]],  # read(db, name, after): ids/offsets
    str,  # the table's id column, as SQL
    str,  # the table
    str,  # the name column
]
KINDS: dict[str, Kind] = {
    "notify": (
        lambda db, tx, name, v: tx.notify(name, v),
        lambda db, name, after: [r[0] for r in db._read(lambda o: o.notify_since(name, after))],
        "id",
        "_honker_notifications",
        "channel",
    ),
    "stream": (
        lambda db, tx, name, v: db.stream(name).publish(v, tx=tx),
        lambda db, name, after: [r["offset"] for r in db.stream(name)._read_since(after, -1)],
        '"offset"',
        "_honker_stream",
        "topic",
    ),
}


def _all_ids(db: honker.Database, kind: str, name: str) -> list[int]:
    _, _, col, table, name_col = KINDS[kind]
    rows = db.query(f"SELECT {col} AS i FROM {table} WHERE {name_col} = ? ORDER BY 1", [name])
    return [r["i"] for r in rows]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_producer_holding_its_transaction_open_queues_the_next_one(
    open_db: Callable[..., honker.Database], pg_url: str, admin: Any, kind: str
) -> None:
    """A holds an id of "t" uncommitted; B (another connection) wants one too and
    waits; C on channel "u" is not held up. A reader that reads while A is open
    sees nothing of "t", then A's row and B's, in that order."""
    produce, read, *_ = KINDS[kind]
    reader, a_db, b_db = open_db(pg_url), open_db(pg_url), open_db(pg_url)
    b_done = threading.Event()

    def b() -> None:
        with b_db.transaction() as tx:
            produce(b_db, tx, "t", "b")
        b_done.set()

    with a_db.transaction() as tx:
        produce(a_db, tx, "t", "a")
        b_thread = threading.Thread(target=b)
        b_thread.start()
        wait_until(lambda: _waiting_for_order_lock(admin) == 1, message="B waits for A")
        with reader.transaction() as other:
            produce(reader, other, "u", "c")  # another channel: not held up
        assert read(reader, "u", 0), "C committed while A was open"
        assert read(reader, "t", 0) == [], "A is not committed, B has no id yet"
        assert not b_done.is_set()
    b_thread.join(10)
    assert b_done.is_set()
    got = read(reader, "t", 0)
    assert got == _all_ids(reader, kind, "t") and len(got) == 2
    assert [_payload(reader, kind, i) for i in got] == ['"a"', '"b"'], (
        "A drew its id first; B drew a higher one once A had committed"
    )


def _payload(db: honker.Database, kind: str, row_id: int) -> str:
    _, _, col, table, _ = KINDS[kind]
    (row,) = db.query(f"SELECT payload FROM {table} WHERE {col} = ?", [row_id])
    return str(row["payload"])


def test_a_plain_sequence_would_skip_a_late_commit(
    db: honker.Database, pg_server: Any, schema: str
) -> None:
    """The control: rows inserted straight into the table (the sequence alone,
    no order lock) become visible out of offset order, and a reader that moved
    past the higher offset never sees the lower one. This is the failure the
    order lock prevents, and the one the tests around this one would catch."""
    insert = f"INSERT INTO {schema}._honker_stream (topic, payload) VALUES ('t', %s)"
    with psycopg.connect(pg_server.url()) as early, psycopg.connect(pg_server.url()) as late:
        early.execute(insert, ['"early"'])  # draws the lower offset, stays open
        late.execute(insert, ['"late"'])
        late.commit()
        seen = [r["offset"] for r in db.stream("t")._read_since(0)]
        early.commit()
    assert len(seen) == 1, "the higher offset committed first"
    assert db.stream("t")._read_since(seen[-1]) == [], "a reader past it skips the early row"
    assert len(db.stream("t")._read_since(0)) == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_concurrent_producers_holding_transactions_open_skip_nothing(
    open_db: Callable[..., honker.Database], pg_url: str, kind: str
) -> None:
    """Four producers, each on its own Database (own connections), commit 25
    transactions each to one channel (topic); each holds its transaction open,
    after drawing its id, until the reader has completed two reads. The reader
    reads ``> last`` in a loop: it must end with every id, in order, once."""
    produce, read, *_ = KINDS[kind]
    producers, per_producer = 4, 25
    reader = open_db(pg_url)
    noise = open_db(pg_url)
    reads = [0]
    changed = threading.Condition()
    stop = threading.Event()
    delivered: list[int] = []
    errors: list[BaseException] = []

    def read_loop() -> None:
        last = 0
        try:
            while True:
                final = stop.is_set()
                got = read(reader, "t", last)
                delivered.extend(got)
                if got:
                    last = got[-1]
                with changed:
                    reads[0] += 1
                    changed.notify_all()
                if final:
                    return
        except BaseException as exc:  # noqa: BLE001  reported by the test thread
            errors.append(exc)

    def producer(db: honker.Database, k: int) -> None:
        try:
            for i in range(per_producer):
                with db.transaction() as tx:
                    produce(db, tx, "t", f"{k}-{i}")
                    with changed:
                        target = reads[0] + 2
                        assert changed.wait_for(lambda: reads[0] >= target, 10)  # noqa: B023
                    if i % 5 == 0:
                        with noise.transaction() as other:  # another channel commits meanwhile
                            produce(noise, other, "u", i)
        except BaseException as exc:  # noqa: BLE001  reported by the test thread
            errors.append(exc)

    reading = threading.Thread(target=read_loop)
    reading.start()
    threads = [
        threading.Thread(target=producer, args=(open_db(pg_url), k)) for k in range(producers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    reading.join(30)
    assert not errors, errors
    assert len(delivered) == producers * per_producer, "none skipped, none twice"
    assert delivered == sorted(set(delivered))
    assert delivered == _all_ids(reader, kind, "t")


def test_opposite_order_on_two_topics_is_a_clear_error_not_a_hang(
    open_db: Callable[..., honker.Database], pg_url: str, admin: Any
) -> None:
    """Two transactions that publish to "a" then "b" and to "b" then "a" wait for
    each other's order lock: PostgreSQL's deadlock detector (deadlock_timeout,
    1 s by default) ends one with honker's BusyError; the other commits, and the
    failed one leaves nothing behind."""
    one, two = open_db(pg_url), open_db(pg_url)
    outcome: dict[str, BaseException | None] = {}
    started = threading.Barrier(2)

    def run(db: honker.Database, first: str, second: str) -> None:
        try:
            with db.transaction() as tx:
                db.stream(first).publish(1, tx=tx)
                started.wait(10)
                db.stream(second).publish(2, tx=tx)
            outcome[first] = None
        except BaseException as exc:  # noqa: BLE001  inspected below
            outcome[first] = exc

    threads = [
        threading.Thread(target=run, args=(one, "a", "b")),
        threading.Thread(target=run, args=(two, "b", "a")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    errors = [e for e in outcome.values() if e is not None]
    assert len(outcome) == 2 and len(errors) == 1, outcome
    assert isinstance(errors[0], honker.BusyError)
    assert "deadlock" in str(errors[0])
    rows = one.query("SELECT topic FROM _honker_stream ORDER BY topic")
    assert [r["topic"] for r in rows] == ["a", "b"], "only the committed transaction's rows"


# -- payloads above NOTIFY's limit --------------------------------------------------------


async def test_payloads_above_notifys_8000_bytes_are_delivered(db: honker.Database) -> None:
    """Wake-ups carry nothing (an empty NOTIFY); readers fetch rows by id, so a
    payload's size is not bounded by NOTIFY's 8000 bytes."""
    listener = db.listen("big", fallback_poll_s=None)
    events = db.stream("big").subscribe()
    try:
        waiting = asyncio.create_task(anext(listener))
        await asyncio.sleep(0)
        text = "x" * BIG
        with db.transaction() as tx:
            tx.notify("big", {"text": text})
            db.stream("big").publish({"text": text, "n": 1}, tx=tx)
        note = await within(waiting)
        assert note.payload == {"text": text}
        event = await within(anext(events))
        assert event.payload == {"text": text, "n": 1}
    finally:
        listener.close()
        events.close()


# -- across processes -----------------------------------------------------------------------

LISTEN_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time, honker

    async def main():
        db = honker.open(sys.argv[1])
        listener = db.listen("events", fallback_poll_s=None)
        events = db.stream("events").subscribe()
        note = asyncio.create_task(anext(listener))
        event = asyncio.create_task(anext(events))
        await asyncio.sleep(0)  # both found nothing: they now wait on LISTEN
        print("ready", flush=True)
        n = await note
        print(f"note {time.time()} {len(n.payload)}", flush=True)
        e = await event
        print(f"event {time.time()} {e.payload['n']}", flush=True)
        db.close()

    asyncio.run(main())
    """
)


def test_a_listener_in_another_process_wakes_on_commit(db: honker.Database, db_path: str) -> None:
    """A listener and a stream subscriber in a child process wake within a
    bounded time of the parent's commit (LISTEN/NOTIFY, not a fallback poll)."""
    with spawn_child(LISTEN_CHILD, db_path) as child:
        with db.transaction() as tx:
            tx.notify("events", "y" * BIG)
            db.stream("events").publish({"n": 7}, tx=tx)
        sent = time.time()
        word, at, size = child.readline().split()
        assert (word, int(size)) == ("note", BIG)
        assert float(at) - sent < WAKE_FLOOR_S
        word, at, n = child.readline().split()
        assert (word, n) == ("event", "7")
        assert float(at) - sent < WAKE_FLOOR_S
        assert child.wait() == 0


# -- stream lags (the overview) --------------------------------------------------------------


def test_stream_lags_match_sqlites(db: honker.Database, open_db: Any, tmp_path: Any) -> None:
    """The same publishes and saves on both backends give the same lag rows."""
    lite = open_db(str(tmp_path / "lags.db"))
    for target in (db, lite):
        for i in range(6):
            target.stream("orders").publish(i)
            if i % 2:
                target.stream("audit").publish(i)
        target.stream("unread").publish("x")
        target.stream("orders").save_offset("mailer", 3)
        target.stream("orders").save_offset("Billing", 9)
        target.stream("gone").save_offset("old", 2)  # a consumer of a topic with no events
    inspector = Inspector(str(tmp_path / "lags.db"))
    try:
        expected = inspector.stream_lags()
    finally:
        inspector.close()
    got = db._read(lambda o: o.stream_lags())
    assert got == expected
    assert [(r["topic"], r["consumer"], r["lag"]) for r in got] == [
        ("audit", None, 3),
        ("gone", "old", 0),
        ("orders", "Billing", 0),
        ("orders", "mailer", 4),
        ("unread", None, 1),
    ]


# -- the same rows as SQLite ------------------------------------------------------------------

PAYLOADS = [
    {"b": 1, "a": [1.5, None, True]},
    "é\u2028😀",
    2**63 - 1,
    -0.0,
    1e300,
    [],
    {"nested": {"z": 0, "y": "\x00"}},
]


def test_rows_are_byte_identical_to_sqlites(
    db: honker.Database, open_db: Callable[..., honker.Database], tmp_path: Any
) -> None:
    """The same notifies and publishes give the same ids, offsets and payload text
    (JSON key order, escapes, numbers) on both backends."""
    lite = open_db(str(tmp_path / "same.db"))
    seen = {}
    for name, target in (("postgres", db), ("sqlite", lite)):
        with target.transaction() as tx:
            ids = [tx.notify("c", p) for p in PAYLOADS]
            for p in PAYLOADS:
                target.stream("s").publish(p, key="k", tx=tx)
        notes = target.query("SELECT id, channel, payload FROM _honker_notifications ORDER BY id")
        events = target.stream("s")._read_since(0, -1)
        seen[name] = (ids, notes, [{**e, "created_at": 0} for e in events])
    assert seen["postgres"] == seen["sqlite"]
    assert seen["postgres"][1][0]["payload"] == '{"b": 1, "a": [1.5, null, true]}'
