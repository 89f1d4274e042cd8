"""Cron-style scheduling: the leader enqueues jobs on schedule.

python examples/scheduler.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
reports = db.queue("reports")

scheduler = honker.Scheduler(db)
scheduler.add(
    name="heartbeat", queue="reports", schedule=honker.every_s(1), payload={"kind": "ping"}
)
scheduler.add(
    name="nightly",
    queue="reports",
    schedule=honker.crontab("0 3 * * *"),
    payload={"kind": "nightly"},
)
for entry in scheduler.list():
    print(f"{entry['name']:<10} {entry['cron_expr']:<12} next fire at {entry['next_fire_at']}")


async def main() -> None:
    stop = asyncio.Event()
    leader = asyncio.create_task(scheduler.run(stop_event=stop))  # takes the leader lock
    fired = 0
    async for job in reports.claim("report-worker"):
        print(f"fired: {job.payload}")
        job.ack()
        fired += 1
        if fired == 2:
            break
    stop.set()
    await leader


asyncio.run(main())
db.close()
