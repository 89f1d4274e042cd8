"""The scheduler: registrations in ``_honker_scheduler_tasks`` and the leader loop.

Registrations are rows shared by every process and binding. Any number of
processes may run :meth:`Scheduler.run`; the one holding the lock
``honker-scheduler`` is the leader and ticks. The tick itself never
double-fires a boundary even without the lock, because it advances
``next_fire_at`` in the transaction that fires, which holds SQLite's write
lock (``BEGIN IMMEDIATE``) or PostgreSQL's row locks on the due schedules; the
lock only keeps the other processes from doing useless work
(docs/spec/python-api.md §15, docs/spec/engine.md §5.5, docs/postgres.md).
Times are the database's clock: ``time.time()`` for SQLite (the clock
``unixepoch()`` reads), the server's read through ``Ops.now()`` for a backend
whose clock is not local.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._errors import (
    ConfigError,
    HonkerError,
    LeadershipLost,
    LockHeld,
    NoScheduledTasksError,
    NotAScheduleError,
    ScheduleError,
    SQLFunctionError,
)
from ._marshal import UNSET, duration_arg, int_arg, json_payload, str_arg
from ._waiting import Wait, until
from .backends.base import FIRE_KEYS, SCHEDULE_COLUMNS, Fire, Ops

if TYPE_CHECKING:
    from ._database import Database
    from ._lock import _Lock

log = logging.getLogger("honker.scheduler")

NO_TASKS = (
    "Scheduler.run() called with no registered tasks. Call scheduler.add(...) first, "
    "or ensure another process has populated _honker_scheduler_tasks."
)
MIN_SLEEP_S = 0.1
# A standby re-checks the lock at least this often; commits (the leader's
# renewals and releases) wake it sooner.
STANDBY_POLL_S = 5.0


class _Lost(Exception):
    """Internal: the leader lock is no longer ours."""


@contextlib.contextmanager
def _sql_function_errors() -> Iterator[None]:
    # In honker these operations are SQL functions, so a cron parse error
    # reaches the caller as the SQL-function RuntimeError, not ValueError.
    try:
        yield
    except ScheduleError as exc:
        raise SQLFunctionError(str(exc)) from None


class Scheduler:
    """Cron-style schedules that enqueue jobs, run by one leader at a time.

    Semantics:
    - ``add``/``remove``/``pause``/``resume``/``update``/``list`` act on the
      shared table directly, each in its own write transaction, so they
      affect schedules registered by any process;
    - :meth:`run` makes this process the leader (or raises ``LockHeld``; pass
      ``standby=True`` to wait instead) and enqueues each due boundary
      exactly once;
    - ``clock`` (unix seconds) is the time the loop ticks with; tests set it
      to move time instead of sleeping. By default it is the database's
      clock: ``time.time`` on SQLite (the clock ``unixepoch()`` reads), the
      server's on PostgreSQL (each tick reads it inside its own transaction,
      so a client whose clock is off neither fires early nor late);
    - lock expiry has whole-second granularity: keep ``lock_ttl`` above
      ``heartbeat_interval + 1`` or a standby can take over a live leader.

    Example::

        sched = honker.Scheduler(db)
        sched.add(name="nightly", queue="reports", schedule=honker.crontab("0 3 * * *"))
        await sched.run(stop_event)
    """

    LOCK_NAME = "honker-scheduler"
    LOCK_TTL = 60
    HEARTBEAT_INTERVAL = 30

    def __init__(
        self,
        db: Database,
        lock_name: str | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.db = db
        self.lock_name = self.LOCK_NAME if lock_name is None else lock_name
        self.lock_ttl: int = self.LOCK_TTL
        self.heartbeat_interval: float = self.HEARTBEAT_INTERVAL
        self._clock = clock
        self._registered: set[str] = set()

    @property
    def clock(self) -> Callable[[], float]:
        """The time the loop ticks with (unix seconds); assign to replace it."""
        if self._clock is not None:
            return self._clock
        return time.time if self.db._backend.local_clock else self._server_clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def _server_clock(self) -> float:
        return float(self.db._read(lambda o: o.now()))

    @property
    def _server_clocked(self) -> bool:
        """Whether ticks run at a server's clock, read by each tick in its own
        transaction (``Ops.now()``) rather than through :attr:`clock`."""
        return self._clock is None and not self.db._backend.local_clock

    # -- registrations --------------------------------------------------------
    def add(
        self,
        *,
        name: str,
        queue: str,
        schedule: Any,
        payload: Any = None,
        priority: int = 0,
        expires: float | None = None,
        max_attempts: int = 3,
    ) -> None:
        """Register (or replace) the schedule ``name``, enqueueing into ``queue``.

        Semantics:
        - ``schedule`` is a :class:`CronSchedule` (anything with ``.expr``);
        - an existing row is replaced whole, and its next fire is recomputed
          as the first boundary strictly after now (a boundary due right now
          can be skipped), but a paused schedule stays paused;
        - each fire enqueues ``json.dumps(payload)`` with ``priority``,
          ``expires`` (seconds after the fire) and ``max_attempts`` (≥ 1);
        - the queue is not created.

        Raises ``RuntimeError`` (``SQLFunctionError``) for an invalid
        expression, ``TypeError`` for a payload ``json`` cannot encode.
        """
        expr = _cron_expr(schedule)
        text = json_payload(payload)
        args = (
            str_arg("name", name),
            str_arg("queue", queue),
            expr,
            text,
            int_arg("priority", priority),
            None if expires is None else duration_arg("expires", expires),
            int_arg("max_attempts", max_attempts),
        )
        with _sql_function_errors():
            self.db._write(lambda o: o.schedule_register(*args))
        self._registered.add(name)

    def remove(self, name: str) -> bool:
        """Delete the schedule ``name``; False if there was none."""
        removed = self.db._write(lambda o: o.schedule_unregister(name))
        self._registered.discard(name)
        return bool(removed)

    def pause(self, name: str) -> bool:
        """Stop firing ``name``; True only if it was enabled."""
        return bool(self.db._write(lambda o: o.schedule_pause(name)))

    def resume(self, name: str) -> bool:
        """Fire ``name`` again; True only if it was paused.

        Its next fire is kept, so the next tick catches up the boundaries
        missed while paused (at most 64).
        """
        return bool(self.db._write(lambda o: o.schedule_resume(name)))

    def list(self) -> list[dict[str, Any]]:
        """Every schedule, ordered by name.

        Keys: ``cron_expr, enabled`` (bool), ``expires_s, max_attempts, name,
        next_fire_at, payload`` (the raw JSON text), ``priority, queue``.
        """
        rows = self.db._write(lambda o: o.schedule_list())
        out = []
        for row in rows:
            item = dict(zip(SCHEDULE_COLUMNS, row, strict=True))
            item["enabled"] = bool(item["enabled"])
            out.append(item)
        return out

    def update(
        self,
        name: str,
        *,
        schedule: Any = None,
        payload: Any = UNSET,
        priority: int | None = None,
        expires: Any = UNSET,
        max_attempts: Any = UNSET,
    ) -> bool:
        """Change some fields of ``name`` atomically; the others stay.

        Semantics:
        - ``schedule`` recomputes the next fire from now;
        - ``payload=None`` stores JSON ``null`` (omit it to keep the payload);
        - ``priority=None`` keeps it; ``expires=None`` clears it;
          ``max_attempts=None`` resets it to 3;
        - False if ``name`` does not exist or no field was given.

        Raises ``RuntimeError`` (``SQLFunctionError``) for an invalid
        expression; nothing changes then.
        """
        expr = None if schedule is None else _cron_expr(schedule)
        text = None if payload is UNSET else json_payload(payload)
        args = (
            name,
            expr,
            text,
            None if priority is None else int_arg("priority", priority),
            None if expires is UNSET or expires is None else duration_arg("expires", expires),
            int(expires is not UNSET),
            None
            if max_attempts is UNSET or max_attempts is None
            else int_arg("max_attempts", max_attempts),
            int(max_attempts is not UNSET),
        )
        with _sql_function_errors():
            return bool(self.db._write(lambda o: o.schedule_update(*args)))

    def tick(self, *, now: float | None = None) -> builtins.list[dict[str, Any]]:
        """Enqueue every boundary due at ``now`` (default: ``self.clock()``); one transaction.

        Semantics: the same tick the leader runs, without taking the lock;
        safe beside a running leader (nothing fires twice). Each returned dict
        has ``fire_at, job_id, name, queue``.

        Example::

            fires = sched.tick(now=time.time() + 3600)   # catch up an hour
        """
        at = None
        if now is not None or not self._server_clocked:
            at = int_arg("now", self.clock() if now is None else now)

        def tick(o: Ops) -> list[Fire]:
            return o.schedule_tick(o.now() if at is None else at)

        with _sql_function_errors():
            fires = self.db._write(tick)
        return [dict(zip(FIRE_KEYS, f, strict=True)) for f in fires]

    # -- the leader loop ------------------------------------------------------
    async def run(self, stop_event: asyncio.Event | None = None, *, standby: bool = False) -> None:
        """Lead: tick due schedules until stopped, none is enabled, or the lock is lost.

        Semantics:
        - with nothing registered here and an empty table, raises
          ``RuntimeError`` before touching the lock;
        - takes the lock ``lock_name`` (TTL ``lock_ttl``) or, by default,
          raises :class:`honker.LockHeld` at once if another scheduler holds it;
        - ``standby=True`` (not in honker) waits instead, re-checking when the
          holder's lock changes or expires, and, if leadership is lost later,
          goes back to waiting instead of raising;
        - while leading: a heartbeat renews the lock every
          ``heartbeat_interval`` s; each iteration checks and renews the lock
          and ticks in one write transaction, then sleeps until the soonest
          next fire (at least 0.1 s), waking early on any commit or on
          ``stop_event``;
        - returns when ``stop_event`` is set or no enabled schedule is left;
        - on a lost lock sets ``stop_event`` and raises
          :class:`honker.LeadershipLost` (not in standby mode);
        - the lock is released on every exit.

        Example::

            stop = asyncio.Event()
            task = asyncio.create_task(sched.run(stop, standby=True))
            ...
            stop.set(); await task
        """
        if not self._registered:
            if self.db._read(lambda o: o.schedule_count()) == 0:
                raise NoScheduledTasksError(NO_TASKS)
        ttl = int(self.lock_ttl)
        if ttl <= 0:
            raise ConfigError(
                f"lock_ttl must be a positive number of seconds, got {self.lock_ttl!r}"
            )
        if self.heartbeat_interval + 1 > ttl:
            log.warning(
                "scheduler %r: heartbeat_interval %ss is too close to lock_ttl %ss; "
                "the lock can expire between renewals",
                self.lock_name, self.heartbeat_interval, ttl,
            )  # fmt: skip
        while True:
            lock = self.db.lock(self.lock_name, ttl=ttl)
            if standby:
                if not await self._await_leadership(lock, stop_event):
                    return
            else:
                lock.__enter__()  # raises LockHeld
            log.info("scheduler %r: leading (owner=%s)", self.lock_name, lock.owner)
            try:
                await self._lead(lock, stop_event)
                return
            except _Lost:
                message = (
                    f"scheduler lock {self.lock_name!r} lost (owner={lock.owner!r}); "
                    "another leader took over"
                )
                if standby:
                    log.warning("%s; back to standby", message)
                    continue
                if stop_event is not None:
                    stop_event.set()  # honker's behaviour: whatever shares it stops too
                raise LeadershipLost(message) from None
            finally:
                _release(lock)

    async def _await_leadership(self, lock: _Lock, stop_event: asyncio.Event | None) -> bool:
        """Take ``lock`` as soon as it is free; False if ``stop_event`` came first."""
        updates = self.db.update_events()

        def step() -> bool | Wait:
            while True:
                if stop_event is not None and stop_event.is_set():
                    return False
                wait_s = self._lock_free_in_s()
                if wait_s > 0:
                    return Wait(wait_s)
                try:
                    lock.__enter__()
                    return True
                except LockHeld:
                    continue  # another standby won the race; read its expiry

        try:
            return await until(updates, step, stop_event)
        finally:
            updates.close()

    def _lock_free_in_s(self) -> float:
        # A read on the reader pool: waiting standbys take no write lock.
        name = self.lock_name
        if self.db._backend.local_clock:
            expires_at, now = self.db._read(lambda o: o.lock_expires_at(name)), time.time()
        else:  # the lock's expiry is the server's: compare with the server's clock
            expires_at, now = self.db._read(lambda o: (o.lock_expires_at(name), o.now()))
        if expires_at is None:
            return 0.0
        # Expired means expires_at <= now, i.e. from second expires_at on.
        left = expires_at - now
        return 0.0 if left <= 0 else min(left, STANDBY_POLL_S)

    async def _lead(self, lock: _Lock, stop_event: asyncio.Event | None) -> None:
        lost = asyncio.Event()
        # Subscribe before the first tick, so a registration in between wakes us.
        updates = self.db.update_events()
        heartbeat = asyncio.create_task(self._heartbeat(lock, lost))
        lock_name, owner, ttl = self.lock_name, lock.owner, lock.ttl

        def step() -> Wait | None:
            if lost.is_set():
                raise _Lost
            if stop_event is not None and stop_event.is_set():
                return None
            # A server's clock is read in the step's own transaction; any
            # other before it begins.
            at = None if self._server_clocked else int(self.clock())

            def lead(o: Ops) -> tuple[bool, list[Fire], int, int]:
                now_unix = o.now() if at is None else at
                return (*o.lead_step(lock_name, owner, ttl, now_unix), now_unix)

            with _sql_function_errors():
                leading, fires, soonest, now_unix = self.db._write(lead)
            if not leading:
                raise _Lost
            for fire_at, job_id, name, queue in fires:
                log.debug("fired %r at %s into %r (job %s)", name, fire_at, queue, job_id)
            if soonest == 0:
                log.info("scheduler %r: no enabled schedules left; stopping", lock_name)
                return None
            # A server's clock is read in whole seconds (the tick's own), so
            # the wake comes up to a second after the boundary; a local or
            # injected clock is read again, to the fraction.
            now_s = now_unix if self._server_clocked else self.clock()
            return Wait(max(MIN_SLEEP_S, soonest - now_s))

        try:
            await until(updates, step, stop_event, lost)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            updates.close()

    async def _heartbeat(self, lock: _Lock, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                renewed = lock.renew()
            except HonkerError as exc:
                # Transient (e.g. busy); the per-tick check decides leadership.
                log.warning("scheduler %r: heartbeat failed: %s", self.lock_name, exc)
                continue
            if not renewed:
                lost.set()
                return


def _cron_expr(schedule: Any) -> str:
    """The expression of a ``CronSchedule``-like object, or a named error."""
    expr = getattr(schedule, "expr", None)
    if not isinstance(expr, str):
        raise NotAScheduleError(
            f"schedule must be a CronSchedule (honker.crontab(...), honker.every_s(...)), "
            f"got {type(schedule).__name__}"
        )
    return expr


def _release(lock: _Lock) -> None:
    try:
        lock.__exit__(None, None, None)
    except HonkerError as exc:  # e.g. the database was closed under us
        log.warning("could not release lock %r: %s", lock.name, exc)
