"""Job management: inspect a queue, requeue dead letters, cancel a record's jobs.

python examples/manage.py
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import honker

path = os.environ.get("HONKER_EXAMPLE_DB") or os.path.join(tempfile.mkdtemp(), "app.db")
db = honker.open(path)
emails = db.queue("emails", max_attempts=1)

# Three e-mails for two users; one for later.
for user, subject in [(1, "welcome"), (2, "welcome"), (1, "receipt")]:
    emails.enqueue({"user_id": user, "subject": subject})
emails.enqueue({"user_id": 2, "subject": "reminder"}, delay=3600)

# The SMTP server is down: the worker fails the first job for good.
job = emails.claim_one("worker-1")
job.fail("smtp down")
print("stats:", emails.stats())

# Operator: look at the dead letters, then requeue them once SMTP is back.
for row in emails.jobs(state="dead"):
    print("dead:", row["id"], row["payload"], row["last_error"])
print("requeued:", emails.requeue_dead())

# User 2 deleted their account: cancel every pending e-mail for them.
print("cancelled for user 2:", emails.cancel_where({"$.user_id": 2}))
print("left:", [r["payload"]["subject"] for r in emails.jobs()])
db.close()
