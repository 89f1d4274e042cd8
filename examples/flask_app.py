"""Flask + honker: an order row and its "ship" job in one transaction; a worker process.

The web process only writes (the row and the job commit together); a worker
process, started apart, claims the jobs and wakes within a millisecond of each
commit. Both open the same SQLite file.

    flask --app examples/flask_app.py run     # serve (HONKER_EXAMPLE_DB: the file, default app.db)
    python examples/flask_app.py worker       # a worker (SIGTERM/SIGINT stop it)
    python examples/flask_app.py              # a demo: starts a worker process, drives the
                                              # app with Flask's test client, stops the worker
"""

import asyncio
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from flask import Flask, abort, request

import honker

DB_PATH = os.environ.get("HONKER_EXAMPLE_DB", "app.db")
db = honker.open(DB_PATH)
ship = db.queue("ship")
with db.transaction() as tx:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, sku TEXT, status TEXT)"
    )

app = Flask(__name__)


@app.post("/orders")
def create_order() -> tuple[dict, int]:
    sku = request.get_json()["sku"]
    with db.transaction() as tx:  # the row and the job commit together, or neither does
        tx.execute("INSERT INTO orders (sku, status) VALUES (?, 'new')", [sku])
        order_id = tx.query("SELECT last_insert_rowid() AS id")[0]["id"]
        job_id = ship.enqueue({"order_id": order_id}, tx=tx)
        if sku == "forbidden":
            abort(409)  # an exception inside the block: both roll back
    return {"id": order_id, "job": job_id}, 201


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> dict:
    rows = db.query("SELECT id, sku, status FROM orders WHERE id = ?", [order_id])
    if not rows:
        abort(404)
    return rows[0]


# -- the worker process -------------------------------------------------------------
async def work(stop: asyncio.Event) -> None:
    claims = ship.claim(f"flask-worker-{os.getpid()}")
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            claiming = asyncio.create_task(claims.__anext__())
            await asyncio.wait({claiming, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not claiming.done():
                claiming.cancel()
                return
            job = claiming.result()
            with db.transaction() as tx:
                tx.execute(
                    "UPDATE orders SET status = 'shipped' WHERE id = ?", [job.payload["order_id"]]
                )
            job.ack()
    finally:
        stopping.cancel()
        claims.close()


def run_worker() -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("worker ready", flush=True)
        await work(stop)

    asyncio.run(main())
    db.close()
    print("worker stopped", flush=True)


def demo() -> None:
    worker = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "worker"], stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    print(worker.stdout.readline().strip())
    client = app.test_client()
    created = client.post("/orders", json={"sku": "lamp"})
    print(f"POST /orders -> {created.status_code} {created.get_json()}")
    refused = client.post("/orders", json={"sku": "forbidden"})
    print(f"POST /orders (forbidden) -> {refused.status_code}")
    order_id = created.get_json()["id"]
    deadline = time.monotonic() + 10
    while client.get(f"/orders/{order_id}").get_json()["status"] != "shipped":
        if time.monotonic() > deadline:
            worker.kill()
            raise SystemExit("the worker did not ship the order")
        time.sleep(0.01)
    print(f"order {order_id}: shipped by the worker process")
    worker.send_signal(signal.SIGTERM)
    print(worker.stdout.read().strip(), "exit", worker.wait(timeout=10))
    orders = db.query("SELECT count(*) AS n FROM orders")[0]["n"]
    print(f"orders: {orders}, jobs left: {ship.stats()['pending']}")
    db.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        run_worker()
    else:
        demo()
