"""SQL parameters in, rows out: honker's marshaling rules (python-api.md §6)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ._errors import ParameterError

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
_PLAIN = frozenset({str, float, bytes, type(None)})


def params(values: object) -> tuple[Any, ...] | list[Any]:
    """Check and convert user parameters to what sqlite3 binds.

    Semantics: ``None`` → NULL, ``bool`` → 0/1, ``bytes`` → BLOB, integers
    that fit in 64 bits → INTEGER (larger ones become REAL), ``str`` → TEXT,
    other float-convertible objects → REAL; anything else is a TypeError.
    """
    if values is None:
        return ()
    if isinstance(values, dict):
        raise ParameterError("SQL params must be a positional sequence, not a dict")
    if isinstance(values, str | bytes):
        raise ParameterError("SQL params must be a sequence of values, not a string or bytes")
    if type(values) is tuple or type(values) is list:
        seq: Iterable[Any] = values
        for v in seq:  # fast path: everything already bindable as is
            t = type(v)
            if t not in _PLAIN and not (t is int and I64_MIN <= v <= I64_MAX):
                break
        else:
            return values
    try:
        seq = iter(values)  # type: ignore[call-overload]
    except TypeError:
        raise ParameterError(
            f"SQL params must be a sequence of values, not {type(values).__name__}"
        ) from None
    return [_value(v) for v in seq]


def _value(v: Any) -> Any:
    t = type(v)
    if v is None or t is str or t is bytes or t is float:
        return v
    if t is bool:
        return int(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, bytearray | memoryview):
        raise ParameterError(f"unsupported SQL parameter type: {t.__name__}")
    if hasattr(v, "__index__"):
        i = v.__index__()
        return i if I64_MIN <= i <= I64_MAX else float(i)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"unsupported SQL parameter type: {t.__name__}") from None


def rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """All rows of ``cur`` as dicts keyed by column name (a repeated name: last wins)."""
    desc = cur.description
    if desc is None:
        return []
    names = [d[0] for d in desc]
    return [dict(zip(names, r)) for r in cur.fetchall()]
