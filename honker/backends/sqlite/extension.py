"""``extension_info()`` and ``load_extension()`` (docs/spec/python-api.md §3.2–3.3).

honker ships a native loadable extension; this package does not need one.
``load_extension(conn)`` therefore registers the pure-Python SQL functions on
any ``sqlite3.Connection`` (works even where the sqlite3 module cannot load
native extensions). When ``HONKER_EXTENSION_PATH`` names a file, honker's
behaviour is kept: that native extension is loaded instead.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

EXTENSION_ENTRYPOINT = "sqlite3_honkerext_init"


def _lib_name() -> str:
    if sys.platform == "darwin":
        return "libhonker_ext.dylib"
    if sys.platform == "win32":
        return "honker_ext.dll"
    return "libhonker_ext.so"


def extension_info() -> tuple[str, str]:
    """``(path, entrypoint)`` of honker's native loadable extension.

    Raises ``FileNotFoundError`` when ``HONKER_EXTENSION_PATH`` names a missing
    file, or when no extension is found (the usual case for this package: use
    :func:`load_extension`, which does not need one).
    """
    env = os.environ.get("HONKER_EXTENSION_PATH")
    if env:
        if os.path.isfile(env):
            return env, EXTENSION_ENTRYPOINT
        raise FileNotFoundError(f"HONKER_EXTENSION_PATH does not exist: {env}")
    pkg = Path(__file__).resolve().parents[2]  # the honker package, as in honker
    name = _lib_name()
    candidates = [pkg / "_lib" / name] + [p / "target" / "release" / name for p in pkg.parents]
    for c in candidates:
        if c.is_file():
            return str(c), EXTENSION_ENTRYPOINT
    raise FileNotFoundError(
        "Honker SQLite extension not found; searched: " + ", ".join(map(str, candidates))
    )


def _load_native(conn: Any, path: str, entrypoint: str) -> None:
    enable = getattr(conn, "enable_load_extension", None)
    if enable is not None:
        enable(True)
    try:
        load = getattr(conn, "load_extension", None)
        if load is not None:
            try:
                load(path, entrypoint=entrypoint)
            except TypeError:
                conn.execute("SELECT load_extension(?, ?)", (path, entrypoint))
        else:
            conn.execute("SELECT load_extension(?, ?)", (path, entrypoint))
    finally:
        if enable is not None:
            enable(False)


def load_extension(conn: Any) -> None:
    """Make ``notify()`` and every ``honker_*`` SQL function available on ``conn``.

    Semantics:
    - like honker's extension, creates ``_honker_notifications`` if missing and
      sets no PRAGMAs (the journal mode stays the caller's choice);
    - call ``SELECT honker_bootstrap()`` to install the rest of the schema;
    - with ``HONKER_EXTENSION_PATH`` set, or for a connection that is not a
      ``sqlite3.Connection``, loads honker's native extension as honker does
      (``FileNotFoundError`` when there is none).

    Example::

        conn = sqlite3.connect("app.db")
        honker.load_extension(conn)
        conn.execute("SELECT honker_bootstrap()")
    """
    if os.environ.get("HONKER_EXTENSION_PATH") or not isinstance(conn, sqlite3.Connection):
        path, entrypoint = extension_info()
        _load_native(conn, path, entrypoint)
        return
    from . import functions as _functions
    from .engine import schema

    schema.install_notifications(conn)
    schema.install_side_tables(conn)  # the claim's pause check reads _honkerpy_paused
    _functions.register(conn)
