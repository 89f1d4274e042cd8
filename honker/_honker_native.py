"""Compatibility module: the names honker's native extension module exports.

In honker these are implemented in Rust; here they are the pure-Python classes.
"""

from __future__ import annotations

from ._database import Database, open
from .backends import Transaction, UpdateEvents


def cron_next_after(expr: str, from_unix: int) -> int:
    """The next unix second strictly after ``from_unix`` matching ``expr``."""
    from .cron.expr import next_after

    return next_after(expr, from_unix)


__all__ = ["Database", "Transaction", "UpdateEvents", "cron_next_after", "open"]
