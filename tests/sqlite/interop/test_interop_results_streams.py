"""Results and streams across engines, in both directions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from helpers import within
from interop_support import NodeSide, has_module, raw_exec, raw_one, raw_rows

Pair = tuple[Any, Any]

VALUES = [{"total": 42, "items": ["ü", None]}, "done ✓", [1, 2.5], 0, None, {"nl": "a\nb\x00c"}]


def requires(module: str) -> None:
    if not has_module(module):
        pytest.skip(f"honker/{module}.py is not in this checkout yet")


# -- results --------------------------------------------------------------------
def test_results_saved_by_one_read_by_the_other(pair: Pair) -> None:
    first, second = pair
    for job_id, value in enumerate(VALUES, start=100):
        first.save_result(job_id, value)
    for job_id, value in enumerate(VALUES, start=100):
        assert second.get_result(job_id) == (True, value)
    assert second.get_result(99) == (False, None)
    # A stored None is the JSON text 'null', not SQL NULL.
    assert raw_one(first.path, "SELECT value FROM _honker_results WHERE job_id = 104") == "null"


def test_result_overwrite_keeps_created_at(pair: Pair) -> None:
    first, second = pair
    first.save_result(7, "v1")
    raw_exec(first.path, "UPDATE _honker_results SET created_at = 1 WHERE job_id = 7")
    second.save_result(7, "v2", ttl=3600)
    (row,) = raw_rows(first.path, "SELECT * FROM _honker_results")
    assert (row["value"], row["created_at"]) == (json.dumps("v2"), 1)
    assert row["expires_at"] is not None
    assert first.get_result(7) == (True, "v2")


def test_result_expiry_and_sweep(pair: Pair) -> None:
    first, second = pair
    first.save_result(1, "short", ttl=3600)
    first.save_result(2, "forever")
    assert second.get_result(1) == (True, "short")
    raw_exec(first.path, "UPDATE _honker_results SET expires_at = unixepoch() WHERE job_id = 1")
    assert second.get_result(1) == (False, None)
    assert first.get_result(1) == (False, None)
    assert second.sweep_results() == 1
    assert first.sweep_results() == 0
    assert first.get_result(2) == (True, "forever")


async def test_python_wait_result_wakes_on_a_honker_save(
    node: Any, open_db: Any, shared_db: str
) -> None:
    db = open_db(shared_db)
    n = NodeSide(node, shared_db)
    q = db.queue("jobs")
    job_id = n.enqueue("jobs", {"task": "add"})
    waiter = asyncio.ensure_future(q.wait_result(job_id, timeout=10))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    (job,) = n.claim("jobs", "node-worker")
    n.save_result(job["id"], {"sum": 3})
    assert n.ack("jobs", job["id"], "node-worker") == 1
    assert await within(waiter, 5) == {"sum": 3}


# -- streams ----------------------------------------------------------------------
EVENTS = [({"order": 1}, None), ({"order": 2}, "k-2"), ("ü 😀\n", ""), (None, "k-4"), ([4], None)]


def _publish_all(side: Any) -> list[int]:
    offsets = []
    for i, (payload, key) in enumerate(EVENTS):
        offsets.append(side.publish("orders", payload, key))
        side.publish("other-topic", {"noise": i})  # offsets are one global counter
    return offsets


def test_stream_published_by_one_read_by_the_other(pair: Pair) -> None:
    first, second = pair
    offsets = _publish_all(first)
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    events = second.read_since("orders", 0)
    assert [e["offset"] for e in events] == offsets
    assert [(json.loads(e["payload"]), e["key"]) for e in events] == EVENTS
    assert {e["topic"] for e in events} == {"orders"}
    assert second.read_since("orders", offsets[1], 2) == first.read_since("orders", offsets[1], 2)
    assert [e["offset"] for e in second.read_since("orders", offsets[1], 2)] == offsets[2:4]
    assert second.read_since("orders", offsets[-1]) == []


def test_stream_offsets_saved_by_one_resumed_by_the_other(pair: Pair) -> None:
    first, second = pair
    offsets = _publish_all(first)
    assert second.get_offset("billing", "orders") == 0
    assert second.save_offset("billing", "orders", offsets[2]) == 1
    assert first.get_offset("billing", "orders") == offsets[2]
    rest = first.read_since("orders", first.get_offset("billing", "orders"))
    assert [e["offset"] for e in rest] == offsets[3:]
    # Saves are monotonic whoever makes them.
    assert first.save_offset("billing", "orders", offsets[1]) == 0
    assert second.get_offset("billing", "orders") == offsets[2]
    assert first.save_offset("billing", "orders", offsets[4]) == 1
    assert second.get_offset("billing", "orders") == offsets[4]
    assert second.get_offset("billing", "other-topic") == 0


async def test_python_subscriber_reads_honker_events_and_saves_offsets(
    node: Any, open_db: Any, shared_db: str
) -> None:
    requires("_stream")
    db = open_db(shared_db)
    n = NodeSide(node, shared_db)
    offsets = [n.publish("orders", payload, key) for payload, key in EVENTS[:3]]
    it = db.stream("orders").subscribe(consumer="py", save_every_n=1, save_every_s=0)
    seen = [await within(it.__anext__(), 5) for _ in range(3)]
    assert [e.offset for e in seen] == offsets
    assert [(e.payload, e.key) for e in seen] == EVENTS[:3]
    # Published by honker *after* we caught up: the watcher wakes us.
    waiting = asyncio.ensure_future(it.__anext__())
    await asyncio.sleep(0.05)
    late = n.publish("orders", {"late": True}, "late-key")
    ev = await within(waiting, 5)
    assert (ev.offset, ev.payload, ev.key, ev.topic) == (late, {"late": True}, "late-key", "orders")
    # The offset saved before yielding `late` is that of the event before it.
    assert n.get_offset("py", "orders") == offsets[-1]
    it.close()


async def test_python_subscriber_resumes_from_a_honker_saved_offset(
    node: Any, open_db: Any, shared_db: str
) -> None:
    requires("_stream")
    db = open_db(shared_db)
    n = NodeSide(node, shared_db)
    offsets = _publish_all(n)
    assert n.save_offset("worker", "orders", offsets[1]) == 1
    it = db.stream("orders").subscribe(consumer="worker")
    got = [await within(it.__anext__(), 5) for _ in range(3)]
    assert [e.offset for e in got] == offsets[2:]
    it.close()
