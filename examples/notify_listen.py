"""Pub/sub: transactional notifications and a listener.

python examples/notify_listen.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)


async def main() -> None:
    listener = db.listen("orders")  # sees only what commits from now on

    with db.transaction() as tx:
        tx.notify("orders", {"id": 1, "status": "paid"})
    try:
        with db.transaction() as tx:
            tx.notify("orders", {"id": 2, "status": "paid"})
            raise ValueError("payment declined")  # rolled back: never delivered
    except ValueError:
        pass
    with db.transaction() as tx:
        tx.notify("orders", {"id": 3, "status": "shipped"})

    for _ in range(2):
        n = await asyncio.wait_for(listener.__anext__(), timeout=10)
        print(f"notification {n.id} on {n.channel!r}: {n.payload}")


asyncio.run(main())
print("pruned:", db.prune_notifications(max_keep=0))
db.close()
