"""Schema bootstrap and the numbered migrations of ``sql/migrations/``
(docs/spec/engine.md §2)."""

from __future__ import annotations

import sqlite3

from ..sql import MIGRATIONS, SCHEMA, Migration, Q


def install_notifications(conn: sqlite3.Connection) -> None:
    """Create ``_honker_notifications`` (honker's ``attach_notify``)."""
    for stmt in SCHEMA["notifications"]:
        conn.execute(stmt)


def bootstrap(conn: sqlite3.Connection) -> int:
    """``honker_bootstrap()``: every table but notifications, then migrations."""
    for stmt in SCHEMA["bootstrap"]:
        conn.execute(stmt)
    _migrate(conn, MIGRATIONS)
    return 1


def install_side_tables(conn: sqlite3.Connection) -> None:
    """honker-py's own tables (``_honkerpy_*``), for ``load_extension``."""
    _migrate(conn, [m for m in MIGRATIONS if m.kind != "column"])


def _migrate(conn: sqlite3.Connection, migrations: list[Migration]) -> None:
    """Apply each migration whose column, table or index is missing, in number order."""
    for migration in migrations:
        if migration.kind == "table":
            row = conn.execute(Q["table_exists"], (migration.table,)).fetchone()
        elif migration.kind == "index":
            if conn.execute(Q["table_exists"], (migration.table,)).fetchone() is None:
                continue  # its table comes with honker's bootstrap, which migrates again
            row = conn.execute(Q["index_exists"], (migration.column,)).fetchone()
        else:
            row = conn.execute(Q["column_exists"], (migration.table, migration.column)).fetchone()
        if row is None:
            try:
                for stmt in migration.statements:
                    conn.execute(stmt)
            except sqlite3.OperationalError as exc:
                # Another process migrated between our check and our ALTER.
                if "duplicate column" not in str(exc).lower():
                    raise


def install_all(conn: sqlite3.Connection) -> None:
    """What ``open()`` installs: notifications plus the bootstrap schema."""
    install_notifications(conn)
    bootstrap(conn)


def queue_init(conn: sqlite3.Connection) -> None:
    """Queue construction: bootstrap, the ``_honker_jobs`` view, legacy clean-up."""
    bootstrap(conn)
    for stmt in SCHEMA["queue_init"]:
        conn.execute(stmt)
