"""Schema bootstrap and column migrations (engine.md §2)."""

from __future__ import annotations

import sqlite3

from .._sql import SCHEMA

# Columns added to _honker_scheduler_tasks after its first release, with the
# DDL that adds them to an older file (engine.md §2.11).
_SCHEDULER_MIGRATIONS = (
    (
        "enabled",
        "ALTER TABLE _honker_scheduler_tasks ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1",
    ),
    (
        "max_attempts",
        "ALTER TABLE _honker_scheduler_tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3",
    ),
)


def install_notifications(conn: sqlite3.Connection) -> None:
    """Create ``_honker_notifications`` (honker's ``attach_notify``)."""
    for stmt in SCHEMA["notifications"]:
        conn.execute(stmt)


def bootstrap(conn: sqlite3.Connection) -> int:
    """``honker_bootstrap()``: every table but notifications, then migrations."""
    for stmt in SCHEMA["bootstrap"]:
        conn.execute(stmt)
    for column, ddl in _SCHEDULER_MIGRATIONS:
        row = conn.execute(
            "SELECT 1 FROM pragma_table_info('_honker_scheduler_tasks') WHERE name = ?",
            (column,),
        ).fetchone()
        if row is None:
            try:
                conn.execute(ddl)
            except sqlite3.OperationalError as exc:
                # Another process migrated between our check and our ALTER.
                if "duplicate column" not in str(exc).lower():
                    raise
    return 1


def install_all(conn: sqlite3.Connection) -> None:
    """What ``open()`` installs: notifications plus the bootstrap schema."""
    install_notifications(conn)
    bootstrap(conn)


def queue_init(conn: sqlite3.Connection) -> None:
    """Queue construction: bootstrap, the ``_honker_jobs`` view, legacy clean-up."""
    bootstrap(conn)
    for stmt in SCHEMA["queue_init"]:
        conn.execute(stmt)
