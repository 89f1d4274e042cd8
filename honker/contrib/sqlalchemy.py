"""honker inside SQLAlchemy 2.x: jobs and notifications that commit with ORM writes.

Example::

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from honker.contrib import sqlalchemy as honker_sa

    engine = create_engine("sqlite:///app.db")
    honker_sa.install(engine)

    with Session(engine) as session, session.begin():
        session.add(Order(sku="book"))
        honker_sa.enqueue(session, "emails", {"order": "book"})
    # committed together; a worker (honker.open("app.db").queue("emails")) wakes

Semantics:
- :func:`install` registers honker's SQL functions (``honker_enqueue``,
  ``notify``, every ``honker_*``) on each connection the engine opens, with
  ``honker.load_extension``, and makes every transaction ``BEGIN IMMEDIATE``
  (SQLAlchemy's documented recipe for SQLite: the sqlite3 driver would
  otherwise begin no transaction before a ``SELECT honker_enqueue(...)``, so
  a job enqueued before any ORM write would commit on its own);
- :func:`enqueue` and :func:`notify` run in the Session's current
  transaction: they commit and roll back with the ORM writes; workers wake on
  the commit (honker's watcher sees commits from any connection);
- the async engine (``sqlite+aiosqlite``) works the same, with
  :func:`aenqueue` and :func:`anotify` on an ``AsyncSession``;
- :func:`include_object` keeps Alembic's autogenerate off honker's tables.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

import honker

if TYPE_CHECKING:  # sqlalchemy.ext.asyncio needs greenlet: only async users install it
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
    from sqlalchemy.orm import Session

__all__ = ["aenqueue", "anotify", "enqueue", "include_object", "install", "notify"]

DEFAULT_MAX_ATTEMPTS = 3  # honker's Queue default
HONKER_PREFIX = "_honker"  # honker's tables (_honker_*) and honker-py's (_honkerpy_*)

_ENQUEUE = text("SELECT honker_enqueue(:queue, :payload, :run_at, :delay, :priority, :ma, :exp)")
_NOTIFY = text("SELECT notify(:channel, :payload)")


def install(engine: Engine | AsyncEngine, *, begin: str | None = "IMMEDIATE") -> None:
    """Register honker's SQL functions on every connection ``engine`` opens.

    Semantics:
    - call it before the engine's first connection (connections already in
      the pool are not changed; ``engine.dispose()`` drops them);
    - ``begin``: each transaction starts with ``BEGIN <begin>`` (default
      ``"IMMEDIATE"``: the write lock is taken at once, waiting up to the
      busy timeout, instead of failing with ``database is locked`` when a
      read must become a write); ``None`` leaves the driver's own handling,
      under which a job enqueued before any other write is not part of the
      transaction;
    - the schema is created by ``SELECT honker_bootstrap()`` on the first
      connection (idempotent).
    """
    sync_engine = cast(Engine, getattr(engine, "sync_engine", engine))  # an AsyncEngine's

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        run_async = getattr(dbapi_connection, "run_async", None)
        if run_async is not None:
            # aiosqlite: the sqlite3 connection lives on aiosqlite's thread, so
            # the functions are registered there.
            run_async(lambda aconn: aconn._execute(_prepare, aconn._conn))
        else:
            _prepare(dbapi_connection)
        if begin is not None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves

    if begin is not None:
        statement = f"BEGIN {begin}"

        @event.listens_for(sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(statement)


def _prepare(conn: Any) -> None:
    honker.load_extension(conn)
    conn.execute("SELECT honker_bootstrap()")
    conn.commit()


def _enqueue_params(
    queue: str,
    payload: Any,
    run_at: int | None,
    delay: int | None,
    priority: int,
    max_attempts: int,
    expires: int | None,
) -> dict[str, Any]:
    return {
        "queue": queue,
        "payload": json.dumps(payload),
        "run_at": run_at,
        "delay": delay,
        "priority": priority,
        "ma": max_attempts,
        "exp": expires,
    }


def enqueue(
    session: Session | Connection,
    queue: str,
    payload: Any,
    *,
    run_at: int | None = None,
    delay: int | None = None,
    priority: int = 0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    expires: int | None = None,
) -> int:
    """Enqueue a job in ``session``'s current transaction; returns the job id.

    Semantics: ``payload`` is stored as ``json.dumps(payload)``; the options
    are honker's ``Queue.enqueue`` options in whole seconds (``run_at`` unix
    seconds, ``delay`` and ``expires`` seconds from now); the job is visible
    to workers once the session commits, and gone if it rolls back.

    Example::

        with Session(engine) as session, session.begin():
            session.add(user)
            honker_sa.enqueue(session, "emails", {"to": user.email}, delay=60)
    """
    params = _enqueue_params(queue, payload, run_at, delay, priority, max_attempts, expires)
    return int(session.execute(_ENQUEUE, params).scalar_one())


async def aenqueue(
    session: AsyncSession,
    queue: str,
    payload: Any,
    *,
    run_at: int | None = None,
    delay: int | None = None,
    priority: int = 0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    expires: int | None = None,
) -> int:
    """:func:`enqueue` on an ``AsyncSession`` (aiosqlite engine)."""
    params = _enqueue_params(queue, payload, run_at, delay, priority, max_attempts, expires)
    return int((await session.execute(_ENQUEUE, params)).scalar_one())


def notify(session: Session | Connection, channel: str, payload: Any) -> int:
    """Notify ``channel`` in ``session``'s transaction (listeners see it after commit).

    ``payload`` is stored as ``json.dumps(payload)``, as ``tx.notify`` does.
    Returns the notification id.
    """
    params = {"channel": channel, "payload": json.dumps(payload)}
    return int(session.execute(_NOTIFY, params).scalar_one())


async def anotify(session: AsyncSession, channel: str, payload: Any) -> int:
    """:func:`notify` on an ``AsyncSession``."""
    params = {"channel": channel, "payload": json.dumps(payload)}
    return int((await session.execute(_NOTIFY, params)).scalar_one())


def include_object(
    object: Any,  # noqa: A002  Alembic's parameter name
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: Any,
) -> bool:
    """Alembic's ``include_object`` hook: False for honker's tables and their parts.

    Example (``env.py``)::

        context.configure(..., include_object=honker_sa.include_object)
    """
    if name is not None and name.startswith(HONKER_PREFIX):
        return False
    table = getattr(object, "table", None)
    table_name = getattr(table, "name", None)
    return not (isinstance(table_name, str) and table_name.startswith(HONKER_PREFIX))
