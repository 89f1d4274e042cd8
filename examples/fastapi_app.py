"""FastAPI + SQLAlchemy + honker: an order row and its "ship" job in one transaction.

The worker runs inside the app's lifespan: one process serves requests and
runs jobs, and it wakes within a millisecond of each commit. For more
throughput, or to deploy web and workers apart, set HONKER_EMBEDDED_WORKER=0
and run workers as processes of their own (`python examples/fastapi_app.py
worker`, as many as you like): they share the one SQLite file.

    uvicorn examples.fastapi_app:app        # serve (HONKER_EXAMPLE_DB: the file, default app.db)
    python examples/fastapi_app.py          # a demo: drives the app with FastAPI's TestClient
    python examples/fastapi_app.py worker   # a worker process on its own
"""

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import honker
from honker.contrib import sqlalchemy as honker_sa

DB_PATH = os.environ.get("HONKER_EXAMPLE_DB", "app.db")
engine = create_engine(f"sqlite:///{DB_PATH}")
honker_sa.install(engine)  # honker's SQL functions on every connection, BEGIN IMMEDIATE


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="new")


Base.metadata.create_all(engine)


class OrderIn(BaseModel):
    sku: str


# -- the worker ---------------------------------------------------------------
async def ship_worker(db: honker.Database, worker_id: str) -> None:
    """Claim "ship" jobs as they commit; mark the order shipped, then ack."""
    claims = db.queue("ship").claim(worker_id)
    try:
        async for job in claims:
            with Session(engine) as session, session.begin():
                order = session.get(Order, job.payload["order_id"])
                if order is not None:
                    order.status = "shipped"
            job.ack()
    finally:
        claims.close()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if os.environ.get("HONKER_EMBEDDED_WORKER", "1") != "1":
        yield
        return
    db = honker.open(DB_PATH)
    worker = asyncio.create_task(ship_worker(db, f"fastapi-{os.getpid()}"))
    try:
        yield
    finally:
        worker.cancel()  # a job mid-update is reclaimed after its visibility timeout
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        db.close()


app = FastAPI(lifespan=lifespan)


# -- the endpoints --------------------------------------------------------------
# Each endpoint opens and ends its Session itself: install() makes every
# transaction BEGIN IMMEDIATE (it holds SQLite's write lock), so none may stay
# open after the handler returns, as a Session from a `yield` dependency would.
@app.post("/orders", status_code=201)
def create_order(body: OrderIn) -> dict:
    # The row and the job commit together, or neither does.
    with Session(engine) as session, session.begin():
        order = Order(sku=body.sku)
        session.add(order)
        session.flush()  # assigns order.id
        order_id = order.id
        job_id = honker_sa.enqueue(session, "ship", {"order_id": order_id})
        if body.sku == "forbidden":
            raise HTTPException(409, "that sku cannot be sold")  # rolls both back
    return {"id": order_id, "job": job_id}


@app.get("/orders/{order_id}")
def get_order(order_id: int) -> dict:
    with Session(engine) as session:
        order = session.get(Order, order_id)
        if order is None:
            raise HTTPException(404)
        return {"id": order.id, "sku": order.sku, "status": order.status}


def demo() -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:  # runs the lifespan: the worker starts
        created = client.post("/orders", json={"sku": "book"})
        print(f"POST /orders -> {created.status_code} {created.json()}")
        refused = client.post("/orders", json={"sku": "forbidden"})
        print(f"POST /orders (forbidden) -> {refused.status_code}")
        order_id = created.json()["id"]
        deadline = time.monotonic() + 10
        while client.get(f"/orders/{order_id}").json()["status"] != "shipped":
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not ship the order")
            time.sleep(0.01)
        print(f"order {order_id}: shipped")
    with Session(engine) as session:
        orders = session.scalar(select(func.count()).select_from(Order))
    print(f"orders: {orders}, jobs left: {jobs_left()}")


def jobs_left() -> int:
    db = honker.open(DB_PATH)
    try:
        return db.queue("ship").stats()["pending"]
    finally:
        db.close()


def run_worker_process() -> None:
    db = honker.open(DB_PATH)
    print("worker ready", flush=True)
    try:
        asyncio.run(ship_worker(db, f"fastapi-worker-{os.getpid()}"))
    except KeyboardInterrupt:
        pass
    finally:
        db.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        run_worker_process()
    else:
        demo()
