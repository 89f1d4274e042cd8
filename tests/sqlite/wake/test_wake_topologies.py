"""Every commit reaches every consumer, across processes, on every backend
(docs/spec/engine.md §8.1-8.2, §8.4-8.5; docs/spec/python-api.md §7).

Producers are child processes that commit as fast as they can, one
transaction per notification or job. Consumers never fall back to a timed
poll (``fallback_poll_s=None`` / ``idle_poll_s=None``), so a wake that never
comes leaves one waiting forever and the read timeout fails the test.
Listeners check that ids increase and that each producer's sequence arrives
complete and in order; job consumers check that every job is acked exactly
once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Callable

from helpers import Child, spawn_child, within
from wakelib import JOB_CONSUMER, JOB_PRODUCER, LISTEN_CONSUMER, NOTIFY_PRODUCER, backend_arg

import honker

FIREHOSE = 20_000  # commits in the one-producer, one-listener case
COMMITS = 3_000  # commits in the other topologies
CONSUMERS = PRODUCERS = 3
DONE_S = 60.0  # generous: only a missed wake (a consumer stuck forever) gets near it


def _go(children: list[Child]) -> list[int]:
    """Start every producer at once; their commit rates (per second) when done."""
    for child in children:
        child.send("go")
    rates = []
    for child in children:
        word, rate = child.readline(DONE_S).split()
        assert word == "done"
        rates.append(int(rate))
    return rates


class Notes:
    """A listener on ``channel`` (no fallback poll) collecting ``expected`` notifications."""

    def __init__(self, db: honker.Database, channel: str, expected: int) -> None:
        self.listener = db.listen(channel, fallback_poll_s=None)
        self.expected = expected
        self.ids: list[int] = []
        self.seqs: dict[str, list[int]] = {}

    async def collect(self) -> None:
        async for note in self.listener:
            tag, seq = note.payload
            self.seqs.setdefault(tag, []).append(seq)
            self.ids.append(note.id)
            if len(self.ids) == self.expected:
                return

    def check(self, per_tag: dict[str, int]) -> None:
        ids = self.ids
        assert all(a < b for a, b in itertools.pairwise(ids)), "ids increase, no repeats"
        assert {tag: len(s) for tag, s in self.seqs.items()} == per_tag
        for tag, s in self.seqs.items():
            assert s == list(range(per_tag[tag])), f"{tag}: complete and in commit order"


async def test_one_producer_one_listener_sees_every_commit(
    open_db: Callable[..., honker.Database], db_path: str, backend: str | None
) -> None:
    db = open_db(db_path, watcher_backend=backend)
    notes = Notes(db, "ch", FIREHOSE)
    producer = spawn_child(NOTIFY_PRODUCER, db_path, "ch", FIREHOSE, "p")
    consuming = asyncio.create_task(notes.collect())
    await asyncio.sleep(0)  # the listener is waiting on the watcher
    (rate,) = await asyncio.to_thread(_go, [producer])
    await within(consuming, DONE_S)
    producer.wait()
    notes.listener.close()
    notes.check({"p": FIREHOSE})
    assert rate > 1000, f"the producer committed only {rate}/s: not a firehose"


async def test_one_producer_one_claimer_gets_every_job(
    open_db: Callable[..., honker.Database], db_path: str, backend: str | None
) -> None:
    db = open_db(db_path, watcher_backend=backend)
    jobs = db.queue("jobs").claim("parent", idle_poll_s=None)
    producer = spawn_child(JOB_PRODUCER, db_path, "jobs", COMMITS, "p", 1)
    got: list[list[object]] = []

    async def consume() -> None:
        async for job in jobs:
            assert job.ack()
            if job.payload == "stop":
                return
            got.append(job.payload)

    consuming = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await asyncio.to_thread(_go, [producer])
    await within(consuming, DONE_S)
    producer.wait()
    jobs.close()
    assert got == [["p", i] for i in range(COMMITS)]


def test_one_producer_three_listener_processes(db_path: str, backend: str | None) -> None:
    honker.open(db_path).close()  # the schema exists before anyone listens
    consumers = [
        spawn_child(LISTEN_CONSUMER, db_path, backend_arg(backend), "ch", COMMITS)
        for _ in range(CONSUMERS)
    ]
    producer = spawn_child(NOTIFY_PRODUCER, db_path, "ch", COMMITS, "p")
    _go([producer])
    for consumer in consumers:
        report = json.loads(consumer.readline(DONE_S))
        assert report == {"count": COMMITS, "ids_increasing": True, "tags": {"p": [COMMITS, True]}}
        consumer.wait()
    producer.wait()


def test_one_producer_three_claimer_processes(db_path: str, backend: str | None) -> None:
    honker.open(db_path).close()
    consumers = [
        spawn_child(JOB_CONSUMER, db_path, backend_arg(backend), "jobs", f"w{k}")
        for k in range(CONSUMERS)
    ]
    producer = spawn_child(JOB_PRODUCER, db_path, "jobs", COMMITS, "p", CONSUMERS)
    _go([producer])
    acked: Counter[tuple[str, int]] = Counter()
    for consumer in consumers:
        # Every consumer took one stop job, so every one was woken at the end.
        acked.update((tag, seq) for tag, seq in json.loads(consumer.readline(DONE_S)))
        consumer.wait()
    producer.wait()
    assert sorted(acked) == [("p", i) for i in range(COMMITS)]
    assert set(acked.values()) == {1}, "no job was delivered twice"


async def test_three_producer_processes_one_listener(
    open_db: Callable[..., honker.Database], db_path: str, backend: str | None
) -> None:
    db = open_db(db_path, watcher_backend=backend)
    per = COMMITS // PRODUCERS
    notes = Notes(db, "ch", per * PRODUCERS)
    producers = [
        spawn_child(NOTIFY_PRODUCER, db_path, "ch", per, f"p{k}") for k in range(PRODUCERS)
    ]
    consuming = asyncio.create_task(notes.collect())
    await asyncio.sleep(0)
    await asyncio.to_thread(_go, producers)
    await within(consuming, DONE_S)
    for producer in producers:
        producer.wait()
    notes.listener.close()
    notes.check({f"p{k}": per for k in range(PRODUCERS)})


async def test_three_producer_processes_one_claimer(
    open_db: Callable[..., honker.Database], db_path: str, backend: str | None
) -> None:
    db = open_db(db_path, watcher_backend=backend)
    per = COMMITS // PRODUCERS
    jobs = db.queue("jobs").claim("parent", idle_poll_s=None)
    producers = [
        spawn_child(JOB_PRODUCER, db_path, "jobs", per, f"p{k}", 0) for k in range(PRODUCERS)
    ]
    got: list[tuple[str, int]] = []

    async def consume() -> None:
        async for job in jobs:
            assert job.ack()
            got.append(tuple(job.payload))
            if len(got) == per * PRODUCERS:
                return

    consuming = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await asyncio.to_thread(_go, producers)
    await within(consuming, DONE_S)
    for producer in producers:
        producer.wait()
    jobs.close()
    assert sorted(got) == sorted((f"p{k}", i) for k in range(PRODUCERS) for i in range(per))
    assert len(set(got)) == len(got)
