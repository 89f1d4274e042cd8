"""SQLite's errors in honker's hierarchy (``honker/_errors.py``).

Every call into ``sqlite3`` made by this backend goes through :func:`translate`,
so the API layer only ever sees ``honker.HonkerError`` subclasses with
SQLite's (or honker's) own message.
"""

from __future__ import annotations

import sqlite3

from ... import _marshal
from ..._errors import (
    BusyError,
    CorruptDatabaseError,
    DatabaseError,
    DiskFullError,
    HonkerError,
    ParameterError,
    ReadOnlyDatabaseError,
    SQLFunctionError,
)
from . import functions as _functions

_BY_CODE: dict[str, type[DatabaseError]] = {
    "SQLITE_BUSY": BusyError,
    "SQLITE_LOCKED": BusyError,
    "SQLITE_READONLY": ReadOnlyDatabaseError,
    "SQLITE_FULL": DiskFullError,
    "SQLITE_CORRUPT": CorruptDatabaseError,
    "SQLITE_NOTADB": CorruptDatabaseError,
}


def from_sqlite(exc: sqlite3.Error, message: str | None = None) -> DatabaseError:
    """Translate a ``sqlite3`` exception into our hierarchy (message kept)."""
    name = getattr(exc, "sqlite_errorname", None)
    base = name.split("_", 2)[:2] if name else None
    key = "_".join(base) if base else ""
    cls = _BY_CODE.get(name or "", None) or _BY_CODE.get(key, DatabaseError)
    err = cls(message if message is not None else str(exc))
    err.sqlite_errorcode = getattr(exc, "sqlite_errorcode", None)
    err.sqlite_errorname = name
    return err


def translate(exc: BaseException) -> BaseException:
    """Turn a ``sqlite3`` error (or a failed honker SQL function) into ours."""
    if isinstance(exc, sqlite3.Error):
        if str(exc) == _functions.UDF_FAILED:
            inner = _functions.take_error()
            if isinstance(inner, sqlite3.Error):
                return from_sqlite(inner)
            # honker surfaces every SQL-function failure as RuntimeError
            # (docs/spec/python-api.md §2): ours already are, except
            # ValueError-based ones such as a cron ScheduleError, which keep
            # only their text.
            if isinstance(inner, HonkerError) and isinstance(inner, RuntimeError):
                return inner
            if inner is not None:
                return SQLFunctionError(str(inner))
        if isinstance(exc, sqlite3.ProgrammingError) and "Incorrect number of bindings" in str(exc):
            return DatabaseError(str(exc))
        return from_sqlite(exc)
    if isinstance(exc, OverflowError):
        return ParameterError(f"SQL parameter out of range: {exc}")
    if isinstance(exc, UnicodeEncodeError):
        return _marshal.text_error(exc)
    return exc


# What translate() turns into honker errors: SQLite's, an int too large to
# bind, and text sqlite3 cannot encode as UTF-8 (a lone surrogate).
TRANSLATED = (sqlite3.Error, OverflowError, UnicodeEncodeError)
