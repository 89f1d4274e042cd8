"""The SQLite backend: honker's on-disk format in the application's own file.

Everything that knows about SQLite lives in this folder: connections and the
writer slot (``backend.py``, ``connection.py``, ``transaction.py``), the
operations (``ops.py`` over ``engine/``), the SQL (``sql/``), the watcher
(``watch/``), the file guard, the SQL functions and ``load_extension``
(``functions.py``, ``extension.py``), and read-only inspection
(``inspect.py``).
"""

from __future__ import annotations

from .backend import SQLiteBackend
from .extension import EXTENSION_ENTRYPOINT, extension_info, load_extension
from .transaction import Transaction
from .transaction import _TxDepthGuard as TxDepthGuard
from .watch.watcher import UpdateEvents

__all__ = [
    "EXTENSION_ENTRYPOINT",
    "SQLiteBackend",
    "Transaction",
    "TxDepthGuard",
    "UpdateEvents",
    "extension_info",
    "load_extension",
]
