"""Running an operation in the caller's transaction or in a new one.

Helpers that accept ``tx=`` join it; honker documents that any object with a
compatible ``query(sql, params)`` works there, so a foreign object is handed to
the backend's ``run_foreign`` (on SQLite: the SQL function call) while a
transaction of the backend runs the operation directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ParameterError

if TYPE_CHECKING:
    from ._database import Database
    from .backends.base import Ops

T = TypeVar("T")


def run(
    db: Database,
    tx: Any,
    fn: Callable[[Ops], T],
    sql_name: str,
    sql_args: Sequence[Any],
    *,
    single: bool = False,
) -> T:
    """``fn(ops)`` in ``tx`` if given (else its own transaction; ``single``:
    ``fn`` is one single-statement operation, ``Backend.write``).

    A foreign ``tx`` (a DB-API-like object with ``query``) goes to the
    backend's ``run_foreign``: SQLite calls ``SELECT sql_name(*sql_args)``,
    the registered SQL function that runs the same operation.
    """
    if tx is None:
        return db._write(fn, single=single)
    backend = db._backend
    if backend.owns(tx):
        return backend.run_in(tx, fn)
    if not callable(getattr(tx, "query", None)):
        raise ParameterError(
            "tx must be the Transaction of `with db.transaction() as tx:` (or an object "
            f"with query(sql, params)), got {type(tx).__name__}"
        )
    return backend.run_foreign(tx, fn, sql_name, sql_args)
