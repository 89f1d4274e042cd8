"""Durable streams: publish with a transaction, consume with a saved offset.

python examples/stream.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
orders = db.stream("orders")

for i in range(1, 6):
    with db.transaction() as tx:
        orders.publish({"order": i, "total": 10 * i}, key=f"customer-{i % 2}", tx=tx)


async def consume(limit: int) -> None:
    seen = 0
    async for event in orders.subscribe(consumer="billing", save_every_n=1):
        print(f"offset {event.offset}: {event.payload} (key {event.key})")
        seen += 1
        if seen == limit:
            return


asyncio.run(consume(3))
# The offset is saved before each later event is handed out, so the consumer
# resumes after the last event it was known to have finished.
print("saved offset:", orders.get_offset("billing"))
asyncio.run(consume(2))
db.close()
