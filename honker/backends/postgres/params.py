"""Parameters of user SQL (``tx.execute``, ``tx.query``, ``db.query``) on PostgreSQL.

Two styles, chosen per statement:

- psycopg's own: ``%s`` and ``%(name)s`` placeholders, ``%%`` for a literal
  ``%``; a dict of parameters always means this style, and so does a
  statement that contains a ``%s``/``%b``/``%t``/``%(`` placeholder;
- honker's (SQLite's) ``?``: with a list or tuple of parameters and no psycopg
  placeholder, each ``?`` outside quotes, comments and dollar-quoted text
  becomes ``%s`` and each ``%`` becomes ``%%``, so the same statement runs on
  both backends.

Without parameters the statement goes to the server unchanged. The jsonb
operators ``?``, ``?|`` and ``?&`` therefore work in statements without
parameters, or in psycopg's style; in ``?`` style write ``jsonb_exists()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..._errors import ParameterError

_PSYCOPG_PLACEHOLDER = re.compile(r"%[sbt(]")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def convert(sql: str, params: object) -> tuple[str, Sequence[Any] | Mapping[str, Any] | None]:
    """``(statement, parameters)`` to hand to psycopg (see the module docstring)."""
    if not isinstance(sql, str):
        raise ParameterError(f"sql must be a str, got {type(sql).__name__}")
    if params is None:
        return sql, None
    if isinstance(params, Mapping):
        return sql, dict(params)
    if isinstance(params, str | bytes):
        raise ParameterError("SQL params must be a sequence of values, not a string or bytes")
    try:
        values = list(params)  # type: ignore[call-overload]
    except TypeError:
        raise ParameterError(
            f"SQL params must be a sequence of values, not {type(params).__name__}"
        ) from None
    if _PSYCOPG_PLACEHOLDER.search(sql):
        return sql, values
    converted, marks = _question_marks(sql)
    if not marks and not values:
        return sql, None
    return converted, values


def _question_marks(sql: str) -> tuple[str, int]:
    """``sql`` with ``?`` → ``%s`` (outside quoted text and comments), ``%`` → ``%%``."""
    out: list[str] = []
    marks = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        end = i + 1
        if ch == "?":
            out.append("%s")
            marks += 1
            i = end
            continue
        if ch in "'\"":
            escapes = ch == "'" and i > 0 and sql[i - 1] in "eE"
            end = _quoted_end(sql, i, ch, escapes)
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            end = n if nl < 0 else nl
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is not None:
                close = sql.find(tag.group(0), tag.end())
                end = n if close < 0 else close + len(tag.group(0))
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return "".join(out), marks


def _quoted_end(sql: str, start: int, quote: str, escapes: bool) -> int:
    """Index just past the quoted text opening at ``start``."""
    i, n = start + 1, len(sql)
    while i < n:
        ch = sql[i]
        if escapes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n
