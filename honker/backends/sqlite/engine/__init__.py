"""honker's operations as plain functions over a ``sqlite3.Connection``.

Each ``honker_*`` SQL function is written exactly once, here. The Python API
calls these functions directly inside its own transaction; the SQL functions
registered by :mod:`honker.backends.sqlite.functions` call the very same functions from inside
a statement. They never begin or commit: the caller owns the transaction.

Functions return plain Python values (ints, tuples); turning them into honker's
JSON text is the SQL adapter's job.
"""
