"""honker.contrib.sqlalchemy on a real engine and Session (sync and aiosqlite):
jobs commit and roll back with ORM writes, and a worker process sees them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from helpers import spawn_child
from sqlalchemy import Engine, String, create_engine, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import honker
from honker.contrib import sqlalchemy as honker_sa


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(50))


def live(db: honker.Database, queue: str) -> list[Any]:
    rows = db.query("SELECT payload FROM _honker_live WHERE queue = ? ORDER BY id", [queue])
    return [json.loads(r["payload"]) for r in rows]


@pytest.fixture
def engine(db_path: str) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{db_path}")
    honker_sa.install(eng)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def test_commit_keeps_the_row_and_the_job(engine: Engine, db: honker.Database) -> None:
    with Session(engine) as session, session.begin():
        session.add(Order(sku="book"))
        job_id = honker_sa.enqueue(session, "ship", {"sku": "book"}, priority=5)
    assert job_id > 0
    assert live(db, "ship") == [{"sku": "book"}]
    job = db.queue("ship").claim_one("w")
    assert job is not None and job.id == job_id and job.payload == {"sku": "book"}
    assert job.ack()
    with Session(engine) as session:
        assert session.scalars(select(Order.sku)).all() == ["book"]


def test_rollback_drops_the_row_and_the_job(engine: Engine, db: honker.Database) -> None:
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        # The enqueue first, before any ORM write: it still joins the transaction.
        honker_sa.enqueue(session, "ship", {"sku": "gone"})
        session.add(Order(sku="gone"))
        session.flush()
        raise RuntimeError("abort")
    assert live(db, "ship") == []
    with Session(engine) as session:
        assert session.scalars(select(Order.sku)).all() == []


def test_notify_commits_with_the_session(engine: Engine, db: honker.Database) -> None:
    def notes() -> list[Any]:
        return db.query("SELECT payload FROM _honker_notifications WHERE channel = 'orders'")

    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        honker_sa.notify(session, "orders", {"id": 1})
        raise RuntimeError
    assert notes() == []
    with Session(engine) as session, session.begin():
        honker_sa.notify(session, "orders", {"id": 2})
    assert [json.loads(n["payload"]) for n in notes()] == [{"id": 2}]


WORKER = """
import asyncio, sys
import honker

async def main():
    db = honker.open(sys.argv[1])
    claims = db.queue("ship").claim("child")
    print("ready", flush=True)
    job = await claims.__anext__()
    job.ack()
    print("got", job.payload["sku"], flush=True)
    claims.close()
    db.close()

asyncio.run(main())
"""


def test_a_worker_process_wakes_on_the_commit(engine: Engine, db_path: str) -> None:
    child = spawn_child(WORKER, db_path)
    with Session(engine) as session, session.begin():
        session.add(Order(sku="lamp"))
        honker_sa.enqueue(session, "ship", {"sku": "lamp"})
    child.expect("got lamp", timeout=10)
    child.wait()


@pytest.fixture
async def async_engine(db_path: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(f"sqlite+aiosqlite:///{db_path}")
    honker_sa.install(eng)
    async with eng.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield eng
    await eng.dispose()


async def test_async_session_commit_and_rollback(
    async_engine: AsyncEngine, db: honker.Database
) -> None:
    with pytest.raises(RuntimeError):
        async with AsyncSession(async_engine) as session, session.begin():
            await honker_sa.aenqueue(session, "ship", {"sku": "gone"})
            await honker_sa.anotify(session, "orders", "gone")
            raise RuntimeError
    async with AsyncSession(async_engine) as session, session.begin():
        session.add(Order(sku="pen"))
        await honker_sa.aenqueue(session, "ship", {"sku": "pen"}, delay=60)
    assert live(db, "ship") == [{"sku": "pen"}]
    assert db.queue("ship").stats()["delayed"] == 1
    assert db.query("SELECT count(*) AS n FROM _honker_notifications")[0]["n"] == 0


def test_alembic_autogenerate_leaves_honker_tables_alone(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        honker_sa.enqueue(session, "ship", {})  # the schema exists
    with engine.connect() as conn:
        plain = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        ctx = MigrationContext.configure(conn, opts={"include_object": honker_sa.include_object})
        filtered = compare_metadata(ctx, Base.metadata)
    assert any(d[0] == "remove_table" and d[1].name.startswith("_honker") for d in plain)
    assert filtered == []
