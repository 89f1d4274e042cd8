"""Advisory locks with a TTL (docs/spec/python-api.md §14)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ._errors import LockHeld
from ._marshal import duration_arg, str_arg

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
        name, owner, ttl = self.name, self.owner, self.ttl
        if not self.db._write(lambda o: o.lock_acquire(name, owner, ttl)):
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
        name, owner = self.name, self.owner
        return bool(self.db._write(lambda o: o.lock_renew(name, owner, ttl_s)))

    def __exit__(self, *exc: object) -> None:
        if self.acquired:
            self.acquired = False
            name, owner = self.name, self.owner
            self.db._write(lambda o: o.lock_release(name, owner))
