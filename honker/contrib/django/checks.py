"""System checks for the SQLite database a ``TaskBackend`` shares (``TaskBackend.check``).

- ``honker.W001``: the shared database is not in WAL mode. Without WAL a
  reader blocks the writer and workers' claims wait behind page reads.
- ``honker.W002``: ``transaction_mode`` is not ``"IMMEDIATE"``. A deferred
  ``atomic()`` block that reads and then enqueues must upgrade its read lock
  to a write lock, and SQLite fails that at once with ``database is locked``
  (no busy wait) when another connection wrote in between.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import checks

if TYPE_CHECKING:
    from .backend import TaskBackend

_WAL_FIX = (
    'Add "init_command": "PRAGMA journal_mode=WAL;" to DATABASES[{alias!r}]["OPTIONS"] '
    "(or open the file once with honker.open(), which sets WAL for good)."
)
_IMMEDIATE_FIX = (
    'Set DATABASES[{alias!r}]["OPTIONS"]["transaction_mode"] = "IMMEDIATE", so atomic() '
    "takes the write lock when it begins and waits for it (up to the busy timeout)."
)


def file_is_wal(path: str) -> bool:
    """Whether the SQLite file's header says WAL (read/write versions 2 at bytes 18-19)."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def check_backend(backend: TaskBackend, databases: dict[str, Any] | None = None) -> list[Any]:
    """The warnings for ``backend``'s shared database (none if it shares none).

    ``databases``: the ``DATABASES`` setting to check (default: the settings').
    """
    if backend.eager:
        return []
    alias = backend.database_alias
    db = (settings.DATABASES if databases is None else databases).get(alias) or {}
    if "sqlite3" not in str(db.get("ENGINE", "")):
        return []
    name = str(db.get("NAME") or "")
    path = backend._path_option
    if path is not None and os.path.realpath(path) != os.path.realpath(name):
        return []  # honker's own file: honker.open sets WAL and BEGIN IMMEDIATE itself
    options = db.get("OPTIONS") or {}
    found = []
    init = str(options.get("init_command") or "").lower().replace(" ", "")
    if "journal_mode=wal" not in init and not file_is_wal(name):
        found.append(
            checks.Warning(
                f"DATABASES[{alias!r}] (shared with TASKS[{backend.alias!r}]) is not in WAL mode.",
                hint=_WAL_FIX.format(alias=alias),
                id="honker.W001",
            )
        )
    if str(options.get("transaction_mode") or "").upper() != "IMMEDIATE":
        found.append(
            checks.Warning(
                f"DATABASES[{alias!r}] (shared with TASKS[{backend.alias!r}]) begins "
                "deferred transactions: an atomic() block that reads and then enqueues can "
                "fail at once with 'database is locked'.",
                hint=_IMMEDIATE_FIX.format(alias=alias),
                id="honker.W002",
            )
        )
    return found
