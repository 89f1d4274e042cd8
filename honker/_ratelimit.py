"""Fixed-window rate limits (docs/spec/python-api.md §14)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._marshal import duration_arg, int_arg

if TYPE_CHECKING:
    from ._database import Database


def try_rate_limit(db: Database, name: str, limit: int, per: int) -> bool:
    """Count one call against ``limit`` per ``per``-second fixed window.

    True if allowed; a rejected call is not counted. Windows align to
    multiples of ``per`` since the epoch, so up to 2×limit calls can pass
    around a boundary. Raises ``ValueError`` (``ConfigError``) unless both
    are positive.
    """
    limit_i, per_i = int_arg("limit", limit), int_arg("per", per)
    return bool(db._write(lambda o: o.rate_limit_try(name, limit_i, per_i)))


def sweep_rate_limits(db: Database, older_than_s: int = 3600) -> int:
    """Delete rate-limit windows that started more than ``older_than_s`` ago."""
    older = duration_arg("older_than_s", older_than_s)
    return db._write(lambda o: o.rate_limit_sweep(older))
