"""The SQLite backend's :class:`honker.backends.base.Ops`: each operation is
one call into ``engine/`` on the connection of the open transaction.

The engine functions are the same ones the registered ``honker_*`` SQL
functions call (``functions.py``), so each operation is written once. The
writer's Ops carries the dead-letter watermarks (``engine/queue.py``); a
reader's Ops has none and is only used for reads.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..base import ClaimRow, EventRow, Fire
from . import inspect, transfer
from .engine import locks, pubsub, ratelimit, results, scheduler, schema, streams
from .engine import queue as jobs
from .engine.queue import Watermarks
from .sql import Q


class SQLiteOps:
    """Operations over one ``sqlite3.Connection`` (see ``honker/backends/base.py``)."""

    __slots__ = ("_conn", "marks", "raw")

    def __init__(self, conn: sqlite3.Connection, marks: Watermarks | None = None) -> None:
        self._conn = conn
        self.marks = marks
        # The connection for an operation that is one statement, atomic on its
        # own: the same connection as :attr:`conn`; a :class:`WriteOps` that
        # has not begun its transaction runs it in autocommit. (An attribute:
        # it is read on every enqueue, claim and ack.)
        self.raw = conn

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, inside the open transaction (see :class:`WriteOps`)."""
        return self._conn

    @property
    def opener(self) -> Callable[[], sqlite3.Connection] | None:
        """What the claim calls for :attr:`conn` after its first statement run
        on :attr:`raw` (None: it already is in the open transaction)."""
        return None

    # -- queues ---------------------------------------------------------------
    def queue_init(self) -> None:
        schema.queue_init(self.conn)

    def enqueue(
        self,
        queue: str,
        payload: str,
        run_at: int | None,
        delay: int | None,
        priority: int,
        max_attempts: int,
        expires: int | None,
    ) -> int:
        conn = self.raw  # one INSERT
        return jobs.enqueue(conn, queue, payload, run_at, delay, priority, max_attempts, expires)

    def claim_batch(self, queue: str, worker_id: str, n: int, timeout_s: int) -> list[ClaimRow]:
        return jobs.claim_batch(self.raw, queue, worker_id, n, timeout_s, self.marks, self.opener)

    def claim_or_next(
        self, queue: str, worker_id: str, timeout_s: int
    ) -> tuple[list[ClaimRow], float | None]:
        """One claim, or (nothing, seconds until the next job becomes claimable:
        None = no such job). SQLite's clock, ``unixepoch()``, is this machine's."""
        rows = jobs.claim_batch(self.raw, queue, worker_id, 1, timeout_s, self.marks, self.opener)
        if rows:
            return rows, None
        next_at = jobs.next_claim_at(self.raw, queue)  # a read: no transaction needed
        return rows, (next_at - time.time() if next_at > 0 else None)

    def next_claim_at(self, queue: str) -> int:
        return jobs.next_claim_at(self.conn, queue)

    def release_claim(self, job_id: int, worker_id: str, attempts: int) -> int:
        return jobs.release_claim(self.raw, job_id, worker_id, attempts)  # one UPDATE

    def ack(self, job_id: int, worker_id: str, queue: str | None = None) -> int:
        return jobs.ack(self.raw, job_id, worker_id, queue)  # one DELETE (two if the hint misses)

    def ack_batch(self, job_ids: Sequence[int], worker_id: str) -> int:
        return jobs.ack_batch(self.raw, json.dumps(list(job_ids)), worker_id)  # one DELETE

    def retry(self, job_id: int, worker_id: str, delay_s: int, error: str) -> int:
        return jobs.retry(self.conn, job_id, worker_id, delay_s, error)

    def fail(self, job_id: int, worker_id: str, error: str) -> int:
        return jobs.fail(self.conn, job_id, worker_id, error)

    def heartbeat(self, job_id: int, worker_id: str, extend_s: int) -> int:
        return jobs.heartbeat(self.raw, job_id, worker_id, extend_s)  # one UPDATE

    def cancel(self, job_id: int) -> int:
        return jobs.cancel(self.conn, job_id)

    def get_job(self, job_id: int) -> tuple[Any, ...] | None:
        return jobs.get_job(self.conn, job_id)

    def sweep_expired(self, queue: str) -> int:
        return jobs.sweep_expired(self.conn, queue)

    # -- job management (sql/manage.sql) ---------------------------------------
    def queue_stats(self, queue: str) -> dict[str, Any]:
        cur = self.conn.execute(Q["manage_stats"], {"queue": queue})
        stats = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        stats["paused"] = bool(stats["paused"])
        return stats

    def list_jobs(
        self, queue: str, state: str | None, limit: int, after_id: int, where: str | None
    ) -> list[tuple[Any, ...]]:
        args = {"queue": queue, "after": after_id, "limit": limit, "where": where}
        live = [] if state == "dead" else self._rows("manage_jobs_live", {**args, "state": state})
        if state not in (None, "dead"):
            return live
        dead = self._rows("manage_jobs_dead", args)
        return sorted(live + dead)[:limit] if state is None else dead

    def _rows(self, name: str, args: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(Q[name], args).fetchall()

    def dead_ids(
        self,
        queue: str,
        ids: Sequence[int] | None,
        where: str | None,
        older_than_s: int | None,
        limit: int,
    ) -> list[int]:
        args = {
            "queue": queue,
            "ids": None if ids is None else json.dumps(list(ids)),
            "where": where,
            "older_than_s": older_than_s,
            "limit": limit,
        }
        return [row[0] for row in self.conn.execute(Q["manage_dead_ids"], args)]

    def requeue_dead(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        text = json.dumps(list(ids))
        moved = self.conn.execute(Q["manage_requeue"], {"ids": text}).rowcount
        self.conn.execute(Q["manage_delete_dead"], {"ids": text})
        return moved

    def delete_dead(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        return self.conn.execute(Q["manage_delete_dead"], {"ids": json.dumps(list(ids))}).rowcount

    def run_now(self, queue: str, job_id: int) -> int:
        return self.conn.execute(Q["manage_run_now"], {"queue": queue, "id": job_id}).rowcount

    def throughput(self, queue: str, minutes: int) -> tuple[int, list[tuple[int, int, int, int]]]:
        conn = self.conn
        now_minute = int(conn.execute(Q["history_now_minute"]).fetchone()[0])
        since = now_minute - 60 * (minutes - 1)
        return now_minute, conn.execute(Q["history_read"], (queue, since)).fetchall()

    def throughput_totals(self) -> list[tuple[str, int, int, int]]:
        return self.conn.execute(Q["totals_read"]).fetchall()

    def now(self) -> int:
        return int(self.conn.execute(Q["now"]).fetchone()[0])

    def overview(self) -> dict[str, Any]:
        return inspect.overview(self.conn)

    def set_paused(self, queue: str, paused: bool) -> int:
        return self.conn.execute(Q["queue_pause" if paused else "queue_resume"], (queue,)).rowcount

    def is_paused(self, queue: str) -> bool:
        return bool(self.conn.execute(Q["queue_paused"], (queue,)).fetchone()[0])

    def cancel_pending(self, queue: str, job_id: int) -> int:
        args = {"queue": queue, "id": job_id}
        return self.conn.execute(Q["manage_cancel_pending"], args).rowcount

    def cancel_where(self, queue: str, where: str) -> int:
        args = {"queue": queue, "where": where}
        return self.conn.execute(Q["manage_cancel_where"], args).rowcount

    # -- results --------------------------------------------------------------
    def save_result(self, job_id: int, value: str, ttl_s: int) -> Any:
        return results.save(self.conn, job_id, value, ttl_s)

    def get_result(self, job_id: int) -> str | None:
        return results.get(self.conn, job_id)

    def sweep_results(self) -> int:
        return results.sweep(self.conn)

    # -- notifications --------------------------------------------------------
    def notify(self, channel: str, payload: str) -> int:
        return pubsub.notify(self.conn, channel, payload)

    def notify_max_id(self, channel: str) -> int:
        return pubsub.max_id(self.conn, channel)

    def notify_since(self, channel: str, after_id: int) -> list[tuple[int, str, str, int]]:
        return pubsub.since(self.conn, channel, after_id)

    def prune_notifications(self, older_than_s: int | None, max_keep: int | None) -> int:
        return pubsub.prune(self.conn, older_than_s, max_keep)

    # -- streams --------------------------------------------------------------
    def publish(self, topic: str, key: str | None, payload: str) -> int:
        return streams.publish(self.conn, topic, key, payload)

    def read_since(self, topic: str, offset: int, limit: int) -> list[EventRow]:
        return streams.read_since(self.conn, topic, offset, limit)

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        return streams.save_offset(self.conn, consumer, topic, offset)

    def get_offset(self, consumer: str, topic: str) -> int:
        return streams.get_offset(self.conn, consumer, topic)

    # -- locks and rate limits -------------------------------------------------
    def lock_acquire(self, name: str, owner: str, ttl_s: int) -> int:
        return locks.acquire(self.conn, name, owner, ttl_s)

    def lock_release(self, name: str, owner: str) -> int:
        return locks.release(self.conn, name, owner)

    def lock_renew(self, name: str, owner: str, ttl_s: int) -> int:
        return locks.renew(self.conn, name, owner, ttl_s)

    def lock_expires_at(self, name: str) -> int | None:
        row = self.conn.execute(Q["lock_expires_at"], (name,)).fetchone()
        return None if row is None else int(row[0])

    def rate_limit_try(self, name: str, limit: int, per_s: int) -> int:
        return ratelimit.try_acquire(self.conn, name, limit, per_s)

    def rate_limit_sweep(self, older_than_s: int) -> int:
        return ratelimit.sweep(self.conn, older_than_s)

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
    ) -> Any:
        return scheduler.register(
            self.conn, name, queue, cron_expr, payload, priority, expires_s, max_attempts
        )

    def schedule_unregister(self, name: str) -> int:
        return scheduler.unregister(self.conn, name)

    def schedule_pause(self, name: str) -> int:
        return scheduler.pause(self.conn, name)

    def schedule_resume(self, name: str) -> int:
        return scheduler.resume(self.conn, name)

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
    ) -> int:
        return scheduler.update(
            self.conn,
            name,
            cron_expr,
            payload,
            priority,
            expires_s,
            touch_expires,
            max_attempts,
            touch_max_attempts,
        )

    def schedule_list(self) -> list[tuple[Any, ...]]:
        return scheduler.list_tasks(self.conn)

    def schedule_count(self) -> int:
        return int(self.conn.execute(Q["scheduler_count"]).fetchone()[0])

    def schedule_tick(self, now_unix: int) -> list[Fire]:
        return scheduler.tick(self.conn, now_unix)

    def lead_step(
        self, lock_name: str, owner: str, ttl_s: int, now_unix: int
    ) -> tuple[bool, list[Fire], int]:
        """One scheduler-leader iteration: check and renew the lock, tick, and
        read the soonest next fire.

        Checking ownership in the tick's own transaction means a leader whose
        lock was taken over can never tick again, not even once. The renewal
        is skipped when it would not move ``expires_at`` (same second): a
        write would be a commit, the commit would wake this very loop, and it
        would spin.
        """
        conn = self.conn
        row = conn.execute(Q["lock_row_now"], (lock_name,)).fetchone()
        if row is None or row[0] != owner:
            return False, [], 0
        if row[1] != row[2] + ttl_s:
            locks.renew(conn, lock_name, owner, ttl_s)
        fires = scheduler.tick(conn, now_unix)
        return True, fires, scheduler.soonest(conn)

    # -- moving a database (transfer.py) ----------------------------------------
    def transfer_freeze(self) -> None:
        """Nothing to do: the writer's transaction already holds the write lock."""

    def transfer_count(self, table: str) -> int:
        return transfer.count(self.conn, table)

    def transfer_export(self, table: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        return transfer.export(self.conn, table, batch)

    def transfer_import(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        transfer.import_rows(self.conn, table, rows)

    def held_claims(self) -> int:
        return transfer.held_claims(self.conn)


class WriteOps(SQLiteOps):
    """A ``write()``'s operations (backend.py): no transaction until one is needed.

    An operation that is one statement, atomic on its own (:attr:`raw`: an
    enqueue, an ack, a heartbeat, a claim the top priority level satisfies)
    runs it in autocommit. In WAL mode SQLite then takes the write lock at the
    statement's start and waits for it under the busy timeout exactly as for
    ``BEGIN IMMEDIATE``, and commits it on its own: the same transaction
    without the two statements around it. Anything else (:attr:`conn`) first
    opens ``BEGIN IMMEDIATE``, once; the backend commits it when the write()
    ends. ``before_begin`` runs just before that BEGIN (the backend settles
    the throughput counts of the statements already committed).
    """

    __slots__ = ("begun", "_before_begin")

    def __init__(
        self,
        conn: sqlite3.Connection,
        marks: Watermarks | None,
        before_begin: Callable[[], None],
    ) -> None:
        super().__init__(conn, marks)
        self.begun = False
        self._before_begin = before_begin

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn if self.begun else self._open()

    @property
    def opener(self) -> Callable[[], sqlite3.Connection] | None:
        return None if self.begun else self._open

    def _open(self) -> sqlite3.Connection:
        if not self.begun:
            self._before_begin()
            self._conn.execute("BEGIN IMMEDIATE")
            self.begun = True
        return self._conn
