"""Storage backends behind one boundary (``base.py``).

:func:`open_backend` picks the backend for a target; the rest of the package
imports this module, never a backend's own modules. SQLite (``sqlite/``) is
the embedded default and the only backend today; honker's public names that
are SQLite's by nature (``Transaction``, ``load_extension``, ...) are
re-exported from here.
"""

from __future__ import annotations

from typing import Any

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


def open_backend(target: str, *args: Any, **options: Any) -> Backend:
    """The backend for ``target`` (a SQLite file path or ``file:`` URI), opened."""
    return SQLiteBackend(target, *args, **options)


def open_inspector(path: str) -> Any:
    """A read-only inspector of ``path`` for the CLI (``sqlite/inspect.py``)."""
    from .sqlite.inspect import Inspector

    return Inspector(path)


__all__ = [
    "EXTENSION_ENTRYPOINT",
    "Backend",
    "Transaction",
    "TxDepthGuard",
    "UpdateEvents",
    "extension_info",
    "load_extension",
    "open_backend",
    "open_inspector",
]
