"""A worker process and a producer process sharing one .db file.

The parent starts a producer child that enqueues 5 jobs (one with a delay,
one that fails and is retried), then works the queue until all are done.

    python examples/worker.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

PRODUCER = """
import sys
sys.path.insert(0, sys.argv[2])
import honker
db = honker.open(sys.argv[1])
q = db.queue("images", visibility_timeout_s=30)
for i in range(4):
    q.enqueue({"image": f"photo-{i}.jpg"}, priority=i)
q.enqueue({"image": "later.jpg"}, delay=1)
db.close()
"""

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
images = db.queue("images", visibility_timeout_s=30)


async def work() -> None:
    done = 0
    async for job in images.claim("resizer-1"):
        name = job.payload["image"]
        if name == "photo-2.jpg" and job.attempts == 1:
            print(f"{name}: failed on attempt 1, retrying now")
            job.retry(delay_s=0, error="thumbnail service busy")
            continue
        print(f"{name}: resized (attempt {job.attempts})")
        job.ack()
        done += 1
        if done == 5:
            return


async def main() -> None:
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    consumer = asyncio.create_task(work())  # waiting before the producer starts
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", PRODUCER, path, root)
    await proc.wait()
    await asyncio.wait_for(consumer, timeout=30)


asyncio.run(main())
db.close()
