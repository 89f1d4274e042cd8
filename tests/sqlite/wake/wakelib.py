"""Shared pieces of the wake-path suite: backend names and child-process scripts.

Each script is run with :func:`helpers.spawn_child` (argv: the database path,
then its own arguments), prints ``ready`` once it is set up, and reports one
JSON line when it is done. Consumers never use a fallback poll
(``idle_poll_s=None`` / ``fallback_poll_s=None``): a missed wake leaves them
waiting forever, and the parent's read timeout turns that into a failure.
"""

from __future__ import annotations

import os
import textwrap

BACKENDS: list[str | None] = [None, "polling", "shm", "kernel"]


def backend_arg(backend: str | None) -> str:
    """How a backend travels on a child's command line (and in test ids)."""
    return "default" if backend is None else backend


def inode(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


# argv: path channel count tag. One transaction per notification, as fast as
# it can; payload [tag, seq].
NOTIFY_PRODUCER = textwrap.dedent(
    """
    import sys, time, honker
    path, channel, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    db = honker.open(path)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    for i in range(count):
        with db.transaction() as tx:
            tx.notify(channel, [tag, i])
    elapsed = time.perf_counter() - t0
    print(f"done {count / elapsed:.0f}", flush=True)
    db.close()
    """
)

# argv: path queue count tag stops. One transaction per job ([tag, seq]), then
# ``stops`` "stop" jobs at priority -1 (claimed after every real job).
JOB_PRODUCER = textwrap.dedent(
    """
    import sys, time, honker
    path, queue, tag = sys.argv[1], sys.argv[2], sys.argv[4]
    count, stops = int(sys.argv[3]), int(sys.argv[5])
    db = honker.open(path)
    q = db.queue(queue)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    for i in range(count):
        q.enqueue([tag, i])
    elapsed = time.perf_counter() - t0
    with db.transaction() as tx:
        for _ in range(stops):
            q.enqueue("stop", tx=tx, priority=-1)
    print(f"done {count / elapsed:.0f}", flush=True)
    db.close()
    """
)

# argv: path backend channel expected. Listens without a fallback poll until
# ``expected`` notifications arrived; reports what it saw.
LISTEN_CONSUMER = textwrap.dedent(
    """
    import asyncio, json, sys, honker

    async def main():
        path, backend, channel, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        db = honker.open(path, watcher_backend=None if backend == "default" else backend)
        listener = db.listen(channel, fallback_poll_s=None)
        print("ready", flush=True)
        ids, seqs = [], {}
        async for note in listener:
            tag, seq = note.payload
            seqs.setdefault(tag, []).append(seq)
            ids.append(note.id)
            if len(ids) == expected:
                break
        report = {
            "count": len(ids),
            "ids_increasing": all(a < b for a, b in zip(ids, ids[1:])),
            "tags": {t: [len(s), s == list(range(len(s)))] for t, s in seqs.items()},
        }
        print(json.dumps(report), flush=True)
        listener.close()
        db.close()

    asyncio.run(main())
    """
)

# argv: path backend queue worker. Claims without a fallback poll until it
# takes a "stop" job; reports the [tag, seq] of every job it acked.
JOB_CONSUMER = textwrap.dedent(
    """
    import asyncio, json, sys, honker

    async def main():
        path, backend, queue, worker = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        db = honker.open(path, watcher_backend=None if backend == "default" else backend)
        jobs = db.queue(queue).claim(worker, idle_poll_s=None)
        print("ready", flush=True)
        got = []
        async for job in jobs:
            assert job.ack(), job.id
            if job.payload == "stop":
                break
            got.append(job.payload)
        print(json.dumps(got), flush=True)
        jobs.close()
        db.close()

    asyncio.run(main())
    """
)

# argv: path seed. "burst N": N commits that each bump counter.n, with a
# random 0-3 ms pause between them; then prints the wall time of the last.
COUNTER_BUMPER = textwrap.dedent(
    """
    import random, sys, time, honker
    db = honker.open(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "burst":
            break
        for k in range(int(words[1])):
            if k:
                time.sleep(rng.uniform(0, 0.003))
            with db.transaction() as tx:
                tx.execute("UPDATE counter SET n = n + 1")
        print(f"sent {time.time()}", flush=True)
    db.close()
    """
)

# argv: path. On "go": 50 rolled-back transactions on a bare connection (every
# fifth one big enough to spill pages into -wal before the rollback), 10
# rolled-back honker transactions, and 20 rounds of transactions that change
# nothing; prints "done spilled=<n>". On "commit": one real commit.
ROLLBACKER = textwrap.dedent(
    """
    import os, sqlite3, sys, honker
    path = sys.argv[1]
    wal = path + "-wal"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = 10")  # a small cache spills to -wal mid-transaction
    db = honker.open(path)
    print("ready", flush=True)
    sys.stdin.readline()
    spilled = 0
    for i in range(50):
        before = os.path.getsize(wal)
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(300 if i % 5 == 0 else 1):
            conn.execute("INSERT INTO junk VALUES (zeroblob(4000))")
        spilled += os.path.getsize(wal) > before
        conn.execute("ROLLBACK")
    for i in range(10):
        try:
            with db.transaction() as tx:
                tx.notify("ch", i)
                raise KeyError(i)
        except KeyError:
            pass
    for _ in range(20):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM junk").fetchall()
        conn.execute("COMMIT")
        conn.execute("UPDATE junk SET b = 1 WHERE 0")
        with db.transaction() as tx:
            tx.query("SELECT 1")
        honker.open(path).close()
    print(f"done spilled={spilled}", flush=True)
    sys.stdin.readline()
    conn.execute("INSERT INTO junk VALUES (1)")
    print("committed", flush=True)
    sys.stdin.readline()
    db.close()
    conn.close()
    """
)

# argv: path. "step I": PRAGMA wal_checkpoint(TRUNCATE) from a second
# connection, then one notification ["step", I]. "stream N EVERY": N
# notifications ["stream", i], a TRUNCATE checkpoint after every EVERY-th.
# Each command reports how many checkpoints left an empty -wal.
CHECKPOINTER = textwrap.dedent(
    """
    import os, sqlite3, sys, honker
    path = sys.argv[1]
    wal = path + "-wal"
    db = honker.open(path)
    ck = sqlite3.connect(path, isolation_level=None)

    def truncate():
        busy, _, _ = ck.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy == 0 and os.path.getsize(wal) == 0)

    def notify(tag, i):
        with db.transaction() as tx:
            tx.notify("ch", [tag, i])

    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[0] == "step":
            emptied = truncate()
            notify("step", int(words[1]))
            print(f"stepped {emptied}", flush=True)
        elif words[0] == "stream":
            n, every, emptied = int(words[1]), int(words[2]), 0
            for i in range(n):
                notify("stream", i)
                if i % every == every - 1:
                    emptied += truncate()
            print(f"streamed {emptied}", flush=True)
        else:
            break
    ck.close()
    db.close()
    """
)

# argv: path count. On "go": ``count`` times, open a Database, commit one
# notification ["churn", i] and close it again; then prints "done".
CHURNER = textwrap.dedent(
    """
    import sys, honker
    path, count = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        db = honker.open(path)
        with db.transaction() as tx:
            tx.notify("ch", ["churn", i])
        db.close()
    print("done", flush=True)
    """
)
