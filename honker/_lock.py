"""Advisory locks and rate limits (python-api.md §14)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ._engine import locks, ratelimit
from ._errors import ConfigError, LockHeld, SQLFunctionError
from ._marshal import duration_arg, int_arg, str_arg

if TYPE_CHECKING:
    from ._database import Database


class _Lock:
    """``db.lock(name, ttl=60, owner=None)``: a non-blocking lock with a TTL.

    Semantics:
    - ``__enter__`` takes the lock or raises :class:`LockHeld` at once;
    - an expired holder (``expires_at <= now``) is displaced;
    - the TTL is not renewed automatically: call :meth:`renew`;
    - every ``db.lock()`` call has a fresh owner, so nesting the same name
      raises ``LockHeld``; there is no fencing token.

    Example::

        with db.lock("nightly-report", ttl=300) as lock:
            build_report()
            lock.renew()
    """

    __slots__ = ("db", "name", "ttl", "owner", "acquired")

    def __init__(self, db: Database, name: str, ttl: int = 60, owner: str | None = None) -> None:
        self.db = db
        self.name = str_arg("lock name", name)
        self.ttl = duration_arg("ttl", ttl)
        self.owner = owner if owner is not None else uuid.uuid4().hex
        self.acquired = False

    def __enter__(self) -> _Lock:
        if not self.db._write(locks.acquire, self.name, self.owner, self.ttl):
            raise LockHeld(f"lock {self.name!r} is already held")
        self.acquired = True
        return self

    def renew(self, ttl: int | None = None) -> bool:
        """Extend the lock to now + ``ttl`` (default: the lock's TTL).

        False if we do not hold it (any more). Raises ``RuntimeError`` for a
        TTL that is not positive.
        """
        if not self.acquired:
            return False
        ttl_s = duration_arg("ttl", ttl or self.ttl)
        if ttl_s <= 0:
            raise SQLFunctionError("ttl_s must be positive")
        return bool(self.db._write(locks.renew, self.name, self.owner, ttl_s))

    def __exit__(self, *exc: object) -> None:
        if self.acquired:
            self.acquired = False
            self.db._write(locks.release, self.name, self.owner)


def try_rate_limit(db: Database, name: str, limit: int, per: int) -> bool:
    """Count one call against ``limit`` per ``per``-second fixed window.

    True if allowed; a rejected call is not counted. Windows align to
    multiples of ``per`` since the epoch, so up to 2×limit calls can pass
    around a boundary.
    """
    limit_i, per_i = int_arg("limit", limit), int_arg("per", per)
    if limit_i <= 0 or per_i <= 0:
        raise ConfigError("limit and per must be positive")
    return bool(db._write(ratelimit.try_acquire, name, limit_i, per_i))


def sweep_rate_limits(db: Database, older_than_s: int = 3600) -> int:
    """Delete rate-limit windows that started more than ``older_than_s`` ago."""
    return db._write(ratelimit.sweep, duration_arg("older_than_s", older_than_s))
