"""Stream throughput: publish (1 event per transaction, 1000 per transaction)
and replay through ``subscribe()``.

honker: ``stream.publish(payload)`` (its own transaction), ``publish(payload,
tx=tx)`` inside one ``db.transaction()``, and ``async for ev in
stream.subscribe(from_offset=0)`` reading every ``ev.payload``. Bare sqlite3:
the same INSERT with ``BEGIN IMMEDIATE``/``COMMIT`` around each event or each
1000, and the same batched ``SELECT ... WHERE topic = ? AND offset > ? LIMIT
1000`` in a ``BEGIN IMMEDIATE`` transaction per batch (as honker reads) with
``json.loads`` per row. Both sides ``json.dumps`` every payload.

    python bench/stream_bench.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from _common import bare_connect, print_rows, rate, row, save, tmp_db

import honker
from honker.backends.sqlite.sql import Q

PAYLOAD = {"order": 42, "status": "paid", "amount_cents": 1999}
TOPIC = "orders"


# -- publish ----------------------------------------------------------------------


def ours_single(n: int) -> float:
    db = honker.open(tmp_db())
    s = db.stream(TOPIC)
    r = rate(n, lambda: [s.publish(PAYLOAD) for _ in range(n)])
    db.close()
    return r


def ours_batched(n: int) -> float:
    db = honker.open(tmp_db())
    s = db.stream(TOPIC)

    def run() -> None:
        for _ in range(n // 1000):
            with db.transaction() as tx:
                for _ in range(1000):
                    s.publish(PAYLOAD, tx=tx)

    r = rate(n, run)
    db.close()
    return r


def bare_single(n: int) -> float:
    conn = bare_connect(tmp_db())
    sql = Q["stream_publish"]

    def run() -> None:
        for _ in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, (TOPIC, None, json.dumps(PAYLOAD)))
            conn.execute("COMMIT")

    r = rate(n, run)
    conn.close()
    return r


def bare_batched(n: int) -> float:
    conn = bare_connect(tmp_db())
    sql = Q["stream_publish"]

    def run() -> None:
        for _ in range(n // 1000):
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(1000):
                conn.execute(sql, (TOPIC, None, json.dumps(PAYLOAD)))
            conn.execute("COMMIT")

    r = rate(n, run)
    conn.close()
    return r


# -- replay -----------------------------------------------------------------------


def _filled(n: int) -> str:
    path = tmp_db()
    db = honker.open(path)
    s = db.stream(TOPIC)
    for _ in range(n // 1000):
        with db.transaction() as tx:
            for _ in range(1000):
                s.publish(PAYLOAD, tx=tx)
    db.close()
    return path


def ours_replay(path: str, n: int) -> float:
    db = honker.open(path)
    s = db.stream(TOPIC)

    async def replay() -> None:
        it = s.subscribe(from_offset=0)
        seen = 0
        try:
            async for ev in it:
                ev.payload  # noqa: B018  decode, as a consumer would
                seen += 1
                if seen == n:
                    return
        finally:
            it.close()

    r = rate(n, lambda: asyncio.run(replay()))
    db.close()
    return r


def bare_replay(path: str, n: int) -> float:
    conn = bare_connect(path, with_schema=False)
    sql = Q["stream_read_since"]

    def run() -> None:
        offset, seen = 0, 0
        while seen < n:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(sql, (TOPIC, offset, 1000)).fetchall()
            conn.execute("COMMIT")
            for _created_at, _key, _offset, payload, _topic in rows:
                json.loads(payload)
            offset = rows[-1][2]
            seen += len(rows)

    r = rate(n, run)
    conn.close()
    return r


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    a = ap.parse_args(argv)
    n = a.events
    replay_n = n * 20
    path = _filled(replay_n)
    # Replay alternates the two sides (three times, best kept): one run of each
    # moved the ratio by ±0.3 on a shared machine.
    replay_ours, replay_bare = 0.0, 0.0
    for _ in range(3):
        replay_ours = max(replay_ours, ours_replay(path, replay_n))
        replay_bare = max(replay_bare, bare_replay(path, replay_n))
    rows = [
        row("stream publish, 1 per transaction", ours_single(n), bare_single(n), "events/s"),
        row(
            "stream publish, 1000 per transaction",
            ours_batched(n * 10),
            bare_batched(n * 10),
            "events/s",
        ),
        row("stream replay via subscribe()", replay_ours, replay_bare, "events/s"),
    ]
    print_rows(rows)
    save("stream", rows)
    return rows


if __name__ == "__main__":
    main()
