"""Creating and upgrading honker's schema on PostgreSQL.

Every open runs :func:`migrate` once, in one transaction that holds an
advisory lock keyed by the schema's name, so concurrent first opens (many
workers starting together) are safe: the first creates the schema and applies
``sql/migrations/NNN_*.sql`` in number order, recording each in
``<schema>.honker_schema_version``; the others wait for its commit and find
nothing left to do. DDL is transactional in PostgreSQL, so a failed migration
leaves nothing half-applied. Migrations only go forward: a database migrated
by a newer honker-py (a version this one does not know) is refused.
"""

from __future__ import annotations

import logging

import psycopg

from ..._errors import DatabaseError
from .sql import MIGRATIONS, SCHEMA_SETUP, fill

log = logging.getLogger("honker.postgres")

# pg_advisory_xact_lock's key: this text and the schema name, hashed by the server.
LOCK_KEY = "honker.migrate."


def migrate(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> int:
    """Bring ``schema`` to the newest version; returns the version it is at.

    ``conn`` is in autocommit mode; the work runs in a transaction of its own.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_KEY + schema])
        for stmt in SCHEMA_SETUP["version_table"]:
            conn.execute(fill(stmt, schema))
        cur = conn.execute(f"SELECT COALESCE(max(version), 0) FROM {schema}.honker_schema_version")
        row = cur.fetchone()
        current = int(row[0]) if row is not None else 0  # type: ignore[call-overload]
        newest = MIGRATIONS[-1].number if MIGRATIONS else 0
        if current > newest:
            raise DatabaseError(
                f"schema {schema!r} is at version {current}, newer than this honker-py knows "
                f"({newest}); upgrade honker-py"
            )
        for migration in MIGRATIONS:
            if migration.number <= current:
                continue
            log.info("migrating schema %s to %03d_%s", schema, migration.number, migration.name)
            for stmt in migration.statements:
                conn.execute(fill(stmt, schema))
            conn.execute(
                f"INSERT INTO {schema}.honker_schema_version (version, name) VALUES (%s, %s)",
                [migration.number, migration.name],
            )
            current = migration.number
    return current
