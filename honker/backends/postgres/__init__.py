"""The PostgreSQL backend: the same API on a server many machines share.

Everything that knows about PostgreSQL lives in this folder, and only this
folder imports psycopg: the URL and its options (``config.py``), the pool and
transactions (``backend.py``, ``transaction.py``), user SQL parameters
(``params.py``), the operations (``ops.py``) over the SQL of ``sql/`` (named
queries and numbered migrations, applied by ``migrate.py``), the
LISTEN/NOTIFY change feed (``changes.py``), error translation
(``errors.py``), the throughput counters (``history.py``) and the command
line's read-only inspector (``inspect.py``). Imported only when ``honker.open()`` is given a
``postgresql://`` URL (docs/postgres.md).
"""

from __future__ import annotations

from .backend import PostgresBackend
from .transaction import PgTransaction

__all__ = ["PgTransaction", "PostgresBackend"]
