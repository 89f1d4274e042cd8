"""Output helpers of the command line (``honker/__main__.py``, ``honker/_cli_manage.py``):
aligned tables, local times, error lines. The CLI is the only part of the
package that prints."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any


def error(command: str, message: str) -> None:
    print(f"honker {command}: error: {message}", file=sys.stderr)


def local(unix: int | None) -> str:
    if unix is None:
        return "-"
    return datetime.fromtimestamp(int(unix)).strftime("%Y-%m-%d %H:%M:%S")


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """Aligned plain text: numbers right-aligned, text left-aligned."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    cells = [[cell(r[key]) for _, key in columns] for r in rows]
    numeric = [
        all(isinstance(r[key], int) and not isinstance(r[key], bool) for r in rows)
        for _, key in columns
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line([h for h, _ in columns]), *(line(c) for c in cells)])
