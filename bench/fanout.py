"""Notify fan-out: one producer process, 100 listeners in another process.

The producer commits M notifications (one per transaction) on one channel;
100 ``db.listen()`` listeners each receive all M. The figure is deliveries
per second (100 × M over the time until the last listener has the last one).

Bare sqlite3 runs the listeners' SELECT for each of the 100 cursors in a busy
loop on one reader connection (no watcher, no sleeping): the same SQL, with
no event-loop or wake machinery.

    python bench/fanout.py [--messages M] [--listeners L]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from _common import ROOT, bare_connect, print_rows, row, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q

PRODUCER = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
import honker
db = honker.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    with db.transaction() as tx:
        tx.notify("fan", {"i": i})
db.close()
"""


def producer(path: str, m: int) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, path, str(m), str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return p


def reap(p: subprocess.Popen[str]) -> None:
    """Wait for the producer; one that died is an error, not a figure."""
    if p.wait() != 0:
        raise RuntimeError(f"fan-out producer exited with {p.returncode}")
    for pipe in (p.stdin, p.stdout):
        if pipe is not None:
            pipe.close()


def ours(m: int, listeners: int) -> float:
    path = tmp_db()
    db = honker.open(path)
    ls = [db.listen("fan") for _ in range(listeners)]

    async def drain(listener: honker.Listener) -> None:
        got = 0
        async for _ in listener:
            got += 1
            if got == m:
                return

    async def main() -> float:
        p = producer(path, m)
        exited = asyncio.ensure_future(asyncio.to_thread(p.wait))
        t0 = time.perf_counter()
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        drained = asyncio.gather(*(drain(li) for li in ls))
        await asyncio.wait({drained, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not drained.done() and p.returncode:  # no more notifications are coming
            drained.cancel()
            await asyncio.gather(drained, return_exceptions=True)
            reap(p)
        await drained
        elapsed = time.perf_counter() - t0
        await exited
        reap(p)
        return elapsed

    elapsed = asyncio.run(main())
    db.close()
    return listeners * m / elapsed


def bare(m: int, listeners: int) -> float:
    path = tmp_db()
    bare_connect(path).close()
    reader = bare_connect(path, with_schema=False)
    p = producer(path, m)
    cursors = [0] * listeners
    got = [0] * listeners
    sql = Q["notify_since"]
    t0 = time.perf_counter()
    assert p.stdin is not None
    p.stdin.write("go\n")
    p.stdin.flush()
    while min(got) < m:
        idle = True
        for i in range(listeners):
            rows = reader.execute(sql, ("fan", cursors[i])).fetchall()
            if rows:
                cursors[i] = rows[-1][0]
                got[i] += len(rows)
                idle = False
        if idle and p.poll():  # the producer died: no more notifications are coming
            reap(p)
    elapsed = time.perf_counter() - t0
    reap(p)
    return listeners * m / elapsed


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--listeners", type=int, default=100)
    a = ap.parse_args(argv)
    rows = [
        row(
            f"notify fan-out to {a.listeners} listeners",
            ours(a.messages, a.listeners),
            bare(a.messages, a.listeners),
            "deliveries/s",
        )
    ]
    print_rows(rows)
    save("fanout", rows)
    return rows


if __name__ == "__main__":
    main()
