"""Storage backends behind one boundary (``base.py``).

:func:`open_backend` picks the backend for a target; the rest of the package
imports this module, never a backend's own modules. SQLite (``sqlite/``) is
the embedded default; PostgreSQL (``postgres/``, extra ``honker-py[postgres]``)
serves ``postgresql://`` and ``postgres://`` URLs and is imported only then,
so the package itself needs nothing beyond the standard library. honker's
public names that are SQLite's by nature (``Transaction``,
``load_extension``, ...) are re-exported from here.
"""

from __future__ import annotations

from typing import Any

from .._errors import ConfigError, InspectError
from .base import Backend
from .sqlite import (
    EXTENSION_ENTRYPOINT,
    SQLiteBackend,
    Transaction,
    TxDepthGuard,
    UpdateEvents,
    extension_info,
    load_extension,
)

POSTGRES_SCHEMES = ("postgresql", "postgres")
POSTGRES_MISSING = (
    "honker.open() was given a PostgreSQL URL, but psycopg is not installed: "
    "pip install 'honker-py[postgres]' ({error})"
)


def is_postgres(target: object) -> bool:
    """Whether ``target`` is a ``postgresql://`` or ``postgres://`` URL."""
    if not isinstance(target, str):
        return False
    scheme, sep, _ = target.partition("://")
    return bool(sep) and scheme.lower() in POSTGRES_SCHEMES


def open_backend(target: str, *args: Any, **options: Any) -> Backend:
    """The backend for ``target``, opened: PostgreSQL for a ``postgresql://`` or
    ``postgres://`` URL, else SQLite (a file path or ``file:`` URI)."""
    if is_postgres(target):
        try:
            from .postgres import PostgresBackend
        except ImportError as exc:
            raise ConfigError(POSTGRES_MISSING.format(error=exc)) from None
        return PostgresBackend(target, *args, **options)
    return SQLiteBackend(target, *args, **options)


def open_inspector(path: str) -> Any:
    """A read-only inspector of ``path`` for the CLI (``sqlite/inspect.py``, or
    ``postgres/inspect.py`` for a PostgreSQL URL); its ``path`` is the target
    as it may be shown (a URL without its password)."""
    if is_postgres(path):
        try:
            from .postgres.inspect import Inspector as PgInspector
        except ImportError as exc:
            raise InspectError(
                POSTGRES_MISSING.format(error=exc).replace("honker.open()", "honker")
            ) from None
        return PgInspector(path)
    from .sqlite.inspect import Inspector

    return Inspector(path)


def existing_target(path: str) -> str:
    """``path`` as it may be shown (a URL without its password), after checking
    that it names an existing honker database: a file for SQLite, a schema
    with honker's tables for PostgreSQL (checked read-only). For the CLI's
    commands that open a database, so a typo never creates a new one.

    Raises :class:`honker.InspectError` saying what is missing.
    """
    if is_postgres(path):
        inspector = open_inspector(path)
        inspector.close()
        return str(inspector.path)
    import os

    if not os.path.isfile(path):
        raise InspectError(f"no such database file: {path}")
    return path


__all__ = [
    "EXTENSION_ENTRYPOINT",
    "Backend",
    "Transaction",
    "TxDepthGuard",
    "UpdateEvents",
    "existing_target",
    "extension_info",
    "is_postgres",
    "load_extension",
    "open_backend",
    "open_inspector",
]
