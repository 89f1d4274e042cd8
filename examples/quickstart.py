"""Quick start: a job that commits with the business row, and a worker.

python examples/quickstart.py
"""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
emails = db.queue("emails")

with db.transaction() as tx:
    tx.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT)")

# The user row and the job commit together, or not at all.
with db.transaction() as tx:
    tx.execute("INSERT INTO users (email) VALUES (?)", ["alice@example.com"])
    emails.enqueue({"to": "alice@example.com", "template": "welcome"}, tx=tx)

# A rolled-back transaction leaves neither the user nor the job behind.
try:
    with db.transaction() as tx:
        tx.execute("INSERT INTO users (email) VALUES (?)", ["mallory@example.com"])
        emails.enqueue({"to": "mallory@example.com"}, tx=tx)
        raise RuntimeError("signup rejected")
except RuntimeError:
    pass


async def worker() -> None:
    async for job in emails.claim("worker-1", idle_poll_s=0.5):
        print(f"job {job.id}: sending {job.payload['template']!r} to {job.payload['to']}")
        job.ack()
        break


asyncio.run(worker())
print("users:", [r["email"] for r in db.query("SELECT email FROM users")])
print("jobs left:", db.query("SELECT count(*) AS n FROM _honker_live")[0]["n"])
db.close()
