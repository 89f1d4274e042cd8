"""A producer SIGKILLed mid-transaction leaves both rows or neither.

The producer inserts a business row (``orders``) and enqueues its job with
``tx=tx`` in one transaction. Killed before COMMIT, SQLite's WAL drops the
uncommitted frames and the kernel drops the write lock, so neither row
exists; killed right after COMMIT returned, both do. The last test kills a
producer at random moments while it commits in a loop.

On PostgreSQL the server rolls back the transaction of a connection that
closed without COMMIT (the kernel closes a killed process's socket); instead
of SQLite's integrity check, the tests wait until no session is left inside a
transaction.
"""

from __future__ import annotations

import json
import random
import time

import pytest
from helpers import spawn_child, wait_until
from rel_support import intact, sigkill

import honker

# Reads one command per line and answers with one line:
#   mid N      insert order N and enqueue its job, print "in-tx N", then block
#              inside the open transaction;
#   commit N   the same, commit, print "committed N", then block;
#   loop       commit order after order forever, printing nothing.
PRODUCER = """
import sys
import honker

db = honker.open(sys.argv[1])
q = db.queue("orders")

def order(tx, n):
    tx.execute("INSERT INTO orders (id) VALUES (?)", [n])
    q.enqueue({"order": n}, tx=tx)

print("ready", flush=True)
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "mid":
        with db.transaction() as tx:
            order(tx, int(arg))
            print(f"in-tx {arg}", flush=True)
            sys.stdin.readline()  # blocks until the test kills us
    elif cmd == "commit":
        with db.transaction() as tx:
            order(tx, int(arg))
        print(f"committed {arg}", flush=True)
        sys.stdin.readline()
    elif cmd == "loop":
        n = int(arg)
        while True:
            with db.transaction() as tx:
                order(tx, n)
            n += 1
"""


@pytest.fixture
def orders_db(db: honker.Database) -> honker.Database:
    db.queue("orders")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    return db


def _state(db: honker.Database) -> tuple[set[int], set[int]]:
    orders = {r["id"] for r in db.query("SELECT id FROM orders")}
    jobs = {json.loads(r["payload"])["order"] for r in db.query("SELECT payload FROM _honker_live")}
    return orders, jobs


@pytest.mark.parametrize("when", ["mid", "commit", "mid", "commit", "mid"])
def test_killed_producer_commits_both_rows_or_neither(
    orders_db: honker.Database, db_path: str, backend: str, when: str
) -> None:
    before = _state(orders_db)
    child = spawn_child(PRODUCER, db_path)
    n = random.randrange(1, 10**9)
    child.send(f"{when} {n}")
    answer = "in-tx" if when == "mid" else "committed"
    child.expect(f"{answer} {n}")
    sigkill(child)  # SIGKILL while blocked inside, or right after, the transaction
    orders, jobs = _state(orders_db)
    if when == "mid":
        assert (orders, jobs) == before, "a killed transaction left a row behind"
    else:
        assert (orders, jobs) == (before[0] | {n}, before[1] | {n})
    # The dead producer's write lock (SQLite) or row locks (PostgreSQL) are gone:
    # this process can write at once.
    with orders_db.transaction() as tx:
        tx.execute("INSERT INTO orders (id) VALUES (?)", [-n])
    assert intact(backend, orders_db, db_path)


def test_producer_killed_at_random_moments_keeps_rows_paired(
    orders_db: honker.Database, db_path: str, backend: str
) -> None:
    rng = random.Random(7)
    start = 0
    for _ in range(5):
        child = spawn_child(PRODUCER, db_path)
        child.send(f"loop {start}")
        wait_until(lambda start=start: len(_state(orders_db)[0]) > start + 20, timeout=10)
        time.sleep(rng.uniform(0.0, 0.05))  # a random instant inside the commit loop
        sigkill(child)
        orders, jobs = _state(orders_db)
        assert orders == jobs, f"unpaired rows: {sorted(orders ^ jobs)[:10]}"
        start = max(orders) + 1
    assert intact(backend, orders_db, db_path)
