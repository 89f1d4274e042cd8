"""Running an engine operation in the caller's transaction or in a new one.

Helpers that accept ``tx=`` join it; honker documents that any object with a
compatible ``query(sql, params)`` works there, so a foreign object gets the SQL
function call while our own :class:`Transaction` runs the operation directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._database import Transaction
from ._errors import ParameterError

if TYPE_CHECKING:
    from ._database import Database

T = TypeVar("T")


def run(db: Database, tx: Any, fn: Callable[..., T], sql_name: str, *args: Any) -> T:
    """``fn(conn, *args)`` in ``tx`` if given (else its own transaction)."""
    if tx is None:
        return db._write(fn, *args)
    if type(tx) is Transaction:
        return tx._run(fn, *args)
    if not callable(getattr(tx, "query", None)):
        raise ParameterError(
            "tx must be the Transaction of `with db.transaction() as tx:` (or an object "
            f"with query(sql, params)), got {type(tx).__name__}"
        )
    marks = ", ".join("?" * len(args))
    rows = tx.query(f"SELECT {sql_name}({marks}) AS r", list(args))
    return rows[0]["r"]  # type: ignore[no-any-return]
