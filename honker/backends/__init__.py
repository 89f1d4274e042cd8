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

POSTGRES_NO_CLI = (
    "the command line does not read PostgreSQL databases yet (docs/postgres.md); use the Python API"
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
    """A read-only inspector of ``path`` for the CLI (``sqlite/inspect.py``)."""
    if is_postgres(path):
        raise InspectError(POSTGRES_NO_CLI)
    from .sqlite.inspect import Inspector

    return Inspector(path)


__all__ = [
    "EXTENSION_ENTRYPOINT",
    "Backend",
    "Transaction",
    "TxDepthGuard",
    "UpdateEvents",
    "extension_info",
    "is_postgres",
    "load_extension",
    "open_backend",
    "open_inspector",
]
