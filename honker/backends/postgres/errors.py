"""psycopg's errors in honker's hierarchy (``honker/_errors.py``).

Every call into psycopg made by this backend goes through :func:`translate`,
so the API layer only ever sees ``honker.HonkerError`` subclasses carrying
PostgreSQL's message, with the URL's password scrubbed out.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import psycopg_pool

from ... import _marshal
from ..._errors import (
    BusyError,
    DatabaseError,
    DiskFullError,
    ParameterError,
    ReadOnlyDatabaseError,
)

# SQLSTATE (or its class, the first two characters) → our class.
_BY_STATE: dict[str, type[DatabaseError]] = {
    "40P01": BusyError,  # deadlock_detected
    "55P03": BusyError,  # lock_not_available
    "57014": BusyError,  # query_canceled (statement_timeout, lock_timeout)
    "25006": ReadOnlyDatabaseError,  # read_only_sql_transaction
    "53100": DiskFullError,  # disk_full
}

# What translate() turns into honker errors: psycopg's, an int too large to
# bind, and text that cannot be encoded as UTF-8 (a lone surrogate), as on SQLite.
TRANSLATED = (psycopg.Error, psycopg_pool.PoolTimeout, OverflowError, UnicodeEncodeError)


def _same(text: str) -> str:
    return text


def translate(exc: BaseException, scrub: Callable[[str], str] = _same) -> BaseException:
    """Our error for a psycopg error (``scrub`` hides the URL's secrets in the text)."""
    clean = scrub
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return BusyError(
            clean(
                f"no PostgreSQL connection within the pool's timeout ({exc}): the server is "
                "unreachable, or every pooled connection is busy (raise ?pool_size=)"
            )
        )
    if isinstance(exc, OverflowError):
        return ParameterError(f"SQL parameter out of range: {exc}")
    if isinstance(exc, UnicodeEncodeError):
        return _marshal.text_error(exc, "PostgreSQL")
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        cls = _BY_STATE.get(state, DatabaseError)
        text = str(exc).strip() or type(exc).__name__
        return cls(clean(text))
    return exc
