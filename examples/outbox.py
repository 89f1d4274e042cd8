"""Transactional outbox: deliver side effects only for committed business rows.

python examples/outbox.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
delivered: list[dict] = []
calls = {"n": 0}
done = asyncio.Event()


def post_webhook(payload: dict) -> None:
    calls["n"] += 1
    if calls["n"] == 1:
        raise ConnectionError("webhook endpoint timed out")  # retried with backoff
    delivered.append(payload)
    print("delivered:", payload)
    done.set()


webhooks = db.outbox("webhooks", post_webhook, base_backoff_s=0)

with db.transaction() as tx:
    tx.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total INTEGER)")
    tx.execute("INSERT INTO orders (id, total) VALUES (1, 42)")
    webhooks.enqueue({"event": "order.created", "id": 1}, tx=tx)


async def main() -> None:
    worker = asyncio.create_task(webhooks.run_worker("webhook-worker"))
    await asyncio.wait_for(done.wait(), timeout=30)
    worker.cancel()
    try:
        await worker
    except asyncio.CancelledError:
        pass


asyncio.run(main())
print("attempts:", calls["n"], "delivered:", len(delivered))
db.close()
