"""A stream consumer killed with SIGKILL resumes with at most ``save_every_n``
replays and no gap (docs/spec/python-api.md §12.2, sharp edge 16)."""

from __future__ import annotations

import pytest
from helpers import spawn_child, within

# Prints each event's offset right after it is yielded. With KILL_AT > 0 it
# SIGKILLs itself after that many events: the worst moment, just before the
# next __anext__ could flush. With PACE_S it slows down so the parent can kill
# it mid-stream.
CONSUMER = """
import asyncio, os, signal, sys, time
import honker

path, every_n, kill_at, pace_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
db = honker.open(path)

async def main():
    it = db.stream("orders").subscribe(consumer="c", save_every_n=every_n, save_every_s=0)
    print("ready", flush=True)
    n = 0
    async for ev in it:
        n += 1
        print(ev.offset, flush=True)
        if n == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if pace_s:
            time.sleep(pace_s)

asyncio.run(main())
"""


def _publish(db, n: int) -> list[int]:
    """Publish n events interleaved with another topic; their offsets."""
    with db.transaction() as tx:
        for i in range(n):
            db.stream("orders").publish(i, tx=tx)
            db.stream("noise").publish(i, tx=tx)  # global offsets: gaps in "orders"
    return [r["offset"] for r in db.stream("orders")._read_since(0, limit=-1)]


def _printed_until_exit(child) -> list[int]:
    offsets = []
    while True:
        try:
            offsets.append(int(child.readline(timeout=10)))
        except AssertionError:  # end of output: the child is gone
            assert child.proc.poll() is not None, child.stderr
            return offsets


async def _resume(db, published: list[int]) -> list[int]:
    """Run a fresh consumer "c" in this process until it reaches the end."""
    it = db.stream("orders").subscribe(consumer="c")
    out: list[int] = []
    try:

        async def take() -> None:
            async for ev in it:
                out.append(ev.offset)
                if ev.offset == published[-1]:
                    return

        await within(take())
    finally:
        it.close()
    return out


def _check_resume(first: list[int], second: list[int], published: list[int], every_n: int):
    assert first == published[: len(first)]  # in order, from the start
    replays = [o for o in second if o in set(first)]
    assert len(replays) <= every_n
    assert first + second[len(replays) :] == published  # nothing lost, nothing skipped
    assert second == published[len(first) - len(replays) :]
    return len(replays)


@pytest.mark.parametrize("kill_at", [1, 57, 100, 101])
async def test_killed_consumer_replays_at_most_save_every_n(db, db_path, kill_at):
    every_n = 50
    published = _publish(db, 300)
    child = spawn_child(CONSUMER, db_path, every_n, kill_at, 0)
    first = _printed_until_exit(child)
    child.kill()
    assert len(first) == kill_at
    saved = db.stream("orders").get_offset("c")
    flushed = every_n * ((kill_at - 1) // every_n)  # events saved before the kill
    assert saved == (published[flushed - 1] if flushed else 0)

    second = await _resume(db, published)
    assert _check_resume(first, second, published, every_n) == kill_at - flushed


async def test_consumer_killed_by_another_process_mid_stream(db, db_path):
    every_n = 100
    published = _publish(db, 2000)
    child = spawn_child(CONSUMER, db_path, every_n, 0, 0.0005)
    first = []
    while len(first) < 700:
        first.append(int(child.readline(timeout=10)))
    child.proc.kill()  # SIGKILL
    first += _printed_until_exit(child)
    child.kill()
    assert len(first) < len(published), "the consumer finished before it was killed"

    second = await _resume(db, published)
    _check_resume(first, second, published, every_n)
