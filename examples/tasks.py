"""Huey-style tasks: decorate a function, call it to enqueue, run workers.

Workers are usually separate processes: ``python -m honker worker myapp.tasks:db``.
This example runs them in-process for brevity.

    python examples/tasks.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
math_q = db.queue("math")


@math_q.task(name="add", retries=3)
def add(a: int, b: int) -> int:
    return a + b


@math_q.task(name="flaky", retries=3, retry_delay_s=0)
def flaky(n: int) -> str:
    job_attempts = db.query("SELECT count(*) AS c FROM flaky_log")[0]["c"]
    with db.transaction() as tx:
        tx.execute("INSERT INTO flaky_log DEFAULT VALUES")
    if job_attempts == 0:
        raise honker.Retryable("not yet", delay_s=0)
    return f"ok after {job_attempts + 1} attempts"


with db.transaction() as tx:
    tx.execute("CREATE TABLE IF NOT EXISTS flaky_log (id INTEGER PRIMARY KEY)")


async def main() -> None:
    stop = asyncio.Event()
    workers = asyncio.create_task(honker.run_workers(db, concurrency=2, stop_event=stop))
    r1, r2 = add(2, 3), flaky(1)  # enqueue; returns TaskResult handles
    print("add(2, 3) =", await r1.aget(timeout=20))
    print("flaky(1) =", await r2.aget(timeout=20))
    print("add.call_local(4, 5) =", add.call_local(4, 5))
    stop.set()
    await workers


asyncio.run(main())
db.close()
