"""The storage boundary: what the API layer asks of a storage engine.

The API layer (queues, results, streams, notify, scheduler, locks, rate
limits, outbox, tasks, worker, CLI) imports this module and nothing of a
storage engine. A backend (``honker/backends/sqlite/`` today) implements:

- :class:`Backend`: transactions, the reader side, the change feed and the
  lifecycle of one open database;
- :class:`Ops`: every operation the API needs, run inside one open
  transaction (River's executor). ``backend.write(fn)`` runs ``fn(ops)`` in a
  write transaction of its own; ``backend.run_in(tx, fn)`` runs it inside a
  user's ``with db.transaction() as tx`` (helpers called with ``tx=``);
- :class:`Changes`: "something committed" ticks, from any process.

Values crossing the boundary are plain Python: ints (unix seconds from the
backend's own clock, ids), ``str`` JSON text, tuples and dicts. Arguments are
already validated by the API layer (``honker/_marshal.py``): a backend never
sees a duration whose sum with now leaves 64 bits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

# (id, queue, payload, worker_id, attempts, claim_expires_at): a claimed job.
ClaimRow = tuple[int, str, str, str, int, int]
# (created_at, key, offset, payload, topic): a stream event, in this order.
EventRow = tuple[int, str | None, int, str, str]
EVENT_COLUMNS = ("created_at", "key", "offset", "payload", "topic")
# (fire_at, job_id, name, queue): one schedule boundary fired by a tick.
Fire = tuple[int, int, str, str]
FIRE_KEYS = ("fire_at", "job_id", "name", "queue")
# The columns of a live job row (``Queue.get_job``): alphabetical, which is
# also the key order of honker's JSON object.
JOB_COLUMNS = (
    "attempts",
    "claim_expires_at",
    "created_at",
    "expires_at",
    "id",
    "max_attempts",
    "payload",
    "priority",
    "queue",
    "run_at",
    "state",
    "worker_id",
)
# ``_honker_live``'s columns in table order (docs/spec/engine.md §2).
LIVE_TABLE_COLUMNS = (
    "id",
    "queue",
    "payload",
    "state",
    "priority",
    "run_at",
    "worker_id",
    "claim_expires_at",
    "attempts",
    "max_attempts",
    "created_at",
    "expires_at",
)
# The keys of ``Queue.jobs()`` rows: a live or dead job, whatever its state.
MANAGED_JOB_COLUMNS = (*LIVE_TABLE_COLUMNS, "last_error", "died_at")
JOB_STATES = ("pending", "delayed", "processing", "dead")


def empty_counts(name: str) -> dict[str, Any]:
    """A queue's row of ``Ops.overview()["queues"]`` before its counts are read
    (``oldest_run_at`` becomes ``oldest_due_age_s`` there)."""
    return {
        "queue": name,
        "pending": 0,
        "processing": 0,
        "delayed": 0,
        "dead": 0,
        "oldest_run_at": None,
    }


# The keys of ``Scheduler.list()`` rows: alphabetical, as honker's JSON keys.
SCHEDULE_COLUMNS = (
    "cron_expr",
    "enabled",
    "expires_s",
    "max_attempts",
    "name",
    "next_fire_at",
    "payload",
    "priority",
    "queue",
)


# What ``honker migrate`` moves (``honker/_transfer.py``): each table kind with
# its columns in export order (honker's own columns; the first is the key rows
# are exported in order of). ``sequences`` rows are ``(kind, last_value)``: the
# last id handed out for ``jobs`` and ``stream`` (ids of deleted rows included),
# so the target never hands out an id the source already used.
TRANSFER_COLUMNS: dict[str, tuple[str, ...]] = {
    "jobs": LIVE_TABLE_COLUMNS,
    "dead": (
        "id",
        "queue",
        "payload",
        "priority",
        "run_at",
        "attempts",
        "max_attempts",
        "last_error",
        "created_at",
        "died_at",
    ),
    "results": ("job_id", "value", "created_at", "expires_at"),
    "stream": ("offset", "topic", "key", "payload", "created_at"),
    "stream_consumers": ("name", "topic", "offset"),
    "schedules": (
        "name",
        "queue",
        "cron_expr",
        "payload",
        "priority",
        "expires_s",
        "next_fire_at",
        "enabled",
        "max_attempts",
    ),
    "sequences": ("kind", "last_value"),
}


class Changes(Protocol):
    """A subscription to commits of the database, from any connection or process.

    Semantics: a commit after the subscription was made wakes a waiter at
    least once (ticks may coalesce); a tick can also come without a relevant
    change, so waiters re-read. A dead feed (database closed, file replaced)
    raises ``honker.WatcherDiedError`` from every wait.
    """

    async def wait(self, timeout: float | None) -> bool:
        """Wait for the next commit (True) or ``timeout`` seconds (False; None: no limit)."""
        ...

    def wait_sync(self, timeout: float | None) -> bool:
        """Block the calling thread until a commit (True) or ``timeout`` (False)."""
        ...

    def mark(self) -> None:
        """The subscriber is about to read: the backend may drop wake-ups for
        commits that read will see anyway."""
        ...

    def generation(self) -> int:
        """A number (>= 0; -1 when unknown) that changes at least whenever the
        backend sends a wake-up to any subscriber of this database, and whenever
        a commit happened that :meth:`mark` would count: a read begun while it
        stayed the same covers every commit a subscriber can have been woken
        for or have marked (so subscribers reading the same thing can share
        one read)."""
        ...

    def busy(self) -> None:
        """A hint from a subscriber that found work without waiting: the backend
        may stop watching for commits on its behalf until it waits again."""
        ...

    def close(self) -> None:
        """Unsubscribe. Idempotent."""
        ...


class Ops(Protocol):
    """Every storage operation of the API, inside one open transaction.

    Semantics: an operation never begins or commits; it sees and makes the
    writes of the transaction it runs in. Time is the backend's clock (whole
    unix seconds), the one every process compares against.
    """

    # -- queues ---------------------------------------------------------------
    def queue_init(self) -> None: ...
    def enqueue(
        self,
        queue: str,
        payload: str,
        run_at: int | None,
        delay: int | None,
        priority: int,
        max_attempts: int,
        expires: int | None,
    ) -> int: ...
    def claim_batch(self, queue: str, worker_id: str, n: int, timeout_s: int) -> list[ClaimRow]: ...
    def claim_or_next(
        self, queue: str, worker_id: str, timeout_s: int
    ) -> tuple[list[ClaimRow], float | None]:
        """One claim; or, when there is nothing to claim, the seconds until a
        job of ``queue`` becomes claimable, measured by the backend's clock
        (None: no such job). The claim iterator sleeps that long, so a client
        whose own clock is off still wakes on time."""
        ...

    def next_claim_at(self, queue: str) -> int: ...
    def release_claim(self, job_id: int, worker_id: str, attempts: int) -> int:
        """Undo a claim whose job never reached its consumer (a wait cancelled
        after the claim, honker/_waiting.py ``Next``): the row is pending again,
        due as before, worker and claim cleared, ``attempts`` back to what it
        was, as if never claimed. 1; 0 unless ``worker_id`` holds a valid claim
        on the row made at attempt ``attempts``. Nothing is counted."""
        ...

    def ack(self, job_id: int, worker_id: str, queue: str | None = None) -> int:
        """Delete the row if ``worker_id`` holds a valid claim on it; 1 or 0.
        ``queue``: the job's queue if the caller knows it, a hint a backend
        may use to do less (a wrong one changes nothing)."""
        ...

    def ack_batch(self, job_ids: Sequence[int], worker_id: str) -> int: ...
    def retry(self, job_id: int, worker_id: str, delay_s: int, error: str) -> int: ...
    def fail(self, job_id: int, worker_id: str, error: str) -> int: ...
    def heartbeat(self, job_id: int, worker_id: str, extend_s: int) -> int: ...
    def cancel(self, job_id: int) -> int: ...
    def get_job(self, job_id: int) -> tuple[Any, ...] | None: ...
    def sweep_expired(self, queue: str) -> int: ...

    # -- job management ---------------------------------------------------------
    # ``where`` is None or a JSON object text mapping JSON paths to values;
    # rows are in MANAGED_JOB_COLUMNS order, by id.
    def queue_stats(self, queue: str) -> dict[str, Any]: ...
    def list_jobs(
        self, queue: str, state: str | None, limit: int, after_id: int, where: str | None
    ) -> list[tuple[Any, ...]]: ...
    def dead_ids(
        self,
        queue: str,
        ids: Sequence[int] | None,
        where: str | None,
        older_than_s: int | None,
        limit: int,
    ) -> list[int]: ...
    def requeue_dead(self, ids: Sequence[int]) -> int: ...
    def delete_dead(self, ids: Sequence[int]) -> int: ...
    def run_now(self, queue: str, job_id: int) -> int: ...
    def cancel_pending(self, queue: str, job_id: int) -> int: ...
    def cancel_where(self, queue: str, where: str) -> int: ...
    def throughput(self, queue: str, minutes: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        """(the current minute, rows ``(minute, completed, failed, retried)`` of
        ``queue``'s last ``minutes`` minutes that have counts), database clock."""
        ...

    def throughput_totals(self) -> list[tuple[str, int, int, int]]:
        """``(queue, completed, failed, retried)`` since the counters began."""
        ...

    def now(self) -> int:
        """The backend's clock: the unix second every process compares against."""
        ...

    def overview(self) -> dict[str, Any]:
        """Every queue's counts, oldest due age, pause flag and all-time
        counters, stream consumer lags and schedules (``sqlite/inspect.py``,
        ``overview``, documents the keys)."""
        ...

    def set_paused(self, queue: str, paused: bool) -> int:
        """Pause (or resume) ``queue``; 1 if that changed anything. Every claim
        path of the backend claims nothing from a paused queue."""
        ...

    def is_paused(self, queue: str) -> bool: ...

    # -- results --------------------------------------------------------------
    def save_result(self, job_id: int, value: str, ttl_s: int) -> Any: ...
    def get_result(self, job_id: int) -> str | None: ...
    def sweep_results(self) -> int: ...

    # -- notifications --------------------------------------------------------
    def notify(self, channel: str, payload: str) -> int: ...
    def notify_max_id(self, channel: str) -> int: ...
    def notify_since(self, channel: str, after_id: int) -> list[tuple[int, str, str, int]]: ...
    def prune_notifications(self, older_than_s: int | None, max_keep: int | None) -> int: ...

    # -- streams --------------------------------------------------------------
    def publish(self, topic: str, key: str | None, payload: str) -> int: ...
    def read_since(self, topic: str, offset: int, limit: int) -> list[EventRow]: ...
    def save_offset(self, consumer: str, topic: str, offset: int) -> int: ...
    def get_offset(self, consumer: str, topic: str) -> int: ...

    # -- locks and rate limits -------------------------------------------------
    def lock_acquire(self, name: str, owner: str, ttl_s: int) -> int: ...
    def lock_release(self, name: str, owner: str) -> int: ...
    def lock_renew(self, name: str, owner: str, ttl_s: int) -> int: ...
    def lock_expires_at(self, name: str) -> int | None: ...
    def rate_limit_try(self, name: str, limit: int, per_s: int) -> int: ...
    def rate_limit_sweep(self, older_than_s: int) -> int: ...

    # -- scheduler ------------------------------------------------------------
    def schedule_register(
        self,
        name: str,
        queue: str,
        cron_expr: str,
        payload: str,
        priority: int,
        expires_s: int | None,
        max_attempts: int,
    ) -> Any: ...
    def schedule_unregister(self, name: str) -> int: ...
    def schedule_pause(self, name: str) -> int: ...
    def schedule_resume(self, name: str) -> int: ...
    def schedule_update(
        self,
        name: str,
        cron_expr: str | None,
        payload: str | None,
        priority: int | None,
        expires_s: int | None,
        touch_expires: int,
        max_attempts: int | None,
        touch_max_attempts: int,
    ) -> int: ...
    def schedule_list(self) -> list[tuple[Any, ...]]: ...
    def schedule_count(self) -> int: ...
    def schedule_tick(self, now_unix: int) -> list[Fire]: ...
    def lead_step(
        self, lock_name: str, owner: str, ttl_s: int, now_unix: int
    ) -> tuple[bool, list[Fire], int]: ...

    # -- moving a database (honker migrate) --------------------------------------
    # ``table`` is a key of TRANSFER_COLUMNS; rows are tuples in its column order.
    def transfer_freeze(self) -> None:
        """Block every other writer of the tables until this transaction ends,
        so an export is one consistent copy and nothing committed meanwhile is lost."""
        ...

    def transfer_count(self, table: str) -> int: ...
    def transfer_export(self, table: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of ``table``, ``batch`` rows at a time, in key order."""
        ...

    def transfer_import(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows`` as they are (ids, offsets and timestamps kept);
        ``sequences`` rows raise the id counters to at least the given values."""
        ...

    def held_claims(self) -> int:
        """How many jobs a worker holds a live claim on (processing, not expired)."""
        ...


class Transaction(Protocol):
    """A user's open write transaction (``with db.transaction() as tx``).

    ``execute``/``query`` take SQL in the backend's own dialect.
    """

    def execute(self, sql: str, params: object = None) -> None: ...
    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]: ...
    def notify(self, channel: str, payload: Any) -> int: ...


class Backend(Protocol):
    """One open database: its transactions, readers, change feed and lifecycle."""

    path: str
    # True when the backend's clock is this machine's wall clock (SQLite's
    # unixepoch() reads what time.time() reads), so the API may read
    # time.time() for it; False when it is a server's (PostgreSQL): the API
    # then reads it through Ops.now() (the scheduler's ticks and countdowns).
    local_clock: bool

    def transaction(self) -> AbstractContextManager[Any]:
        """A user-facing write transaction: commits on success, rolls back on error."""
        ...

    def write(self, fn: Callable[[Ops], T], *, single: bool = False) -> T:
        """``fn(ops)`` in a write transaction of its own; committed when it returns.

        ``single``: the caller promises ``fn`` runs one operation of one
        statement, which a backend may then commit in fewer round trips."""
        ...

    def read(self, fn: Callable[[Ops], T]) -> T:
        """``fn(ops)`` on a reader: sees committed data only, takes no write lock,
        holds no snapshot after it returns. ``fn`` must not write."""
        ...

    def owns(self, tx: Any) -> bool:
        """Whether ``tx`` is a transaction of this backend's kind (else the
        caller joins it through ``tx.query`` and the SQL functions)."""
        ...

    def run_in(self, tx: Any, fn: Callable[[Ops], T]) -> T:
        """``fn(ops)`` inside the caller's open transaction ``tx`` (one it owns)."""
        ...

    def run_foreign(
        self, tx: Any, fn: Callable[[Ops], T], sql_name: str, sql_args: Sequence[Any]
    ) -> T:
        """The operation ``fn`` inside a foreign transaction object ``tx`` (one
        with ``query(sql, params)``, not a transaction of this backend).

        ``sql_name(*sql_args)`` names the same operation as an SQL function;
        a backend that has such functions (SQLite's ``honker_*``) calls it, one
        without runs ``fn``'s statements through ``tx.query``.
        """
        ...

    def in_transaction(self) -> bool:
        """Whether the calling thread holds this backend's write transaction."""
        ...

    def query(self, sql: str, params: object = None) -> list[dict[str, Any]]:
        """One user statement on a reader; rows as dicts."""
        ...

    def changes(self) -> Changes:
        """Subscribe to commits (see :class:`Changes`)."""
        ...

    def close(self) -> None:
        """Close every connection and stop the change feed. Idempotent."""
        ...
