"""Queue operations: the job state machine of docs/spec/engine.md §4.2 and §5.1.

States: a row in ``_honker_live`` is ``pending`` or ``processing``; ack deletes
it; dead rows move to ``_honker_dead``. Attempts are counted at claim time, so
``max_attempts`` is the number of executions.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ...._marshal import I64_MAX, I64_MIN
from ...base import ClaimRow
from ..sql import Q
from . import history

# A dead-letter row as returned by the DELETE ... RETURNING statements:
# (id, queue, payload, priority, run_at, max_attempts, attempts, created_at)
DeadRow = tuple[Any, ...]


MAX_ATTEMPTS_EXCEEDED = "max attempts exceeded"
EXPIRED = "expired"


def _bury(conn: sqlite3.Connection, rows: list[DeadRow], error: str | None) -> None:
    """Insert removed live rows into ``_honker_dead`` with ``last_error``.

    Every job that reaches the dead letters counts as failed (engine/history.py).
    """
    if rows:
        conn.executemany(Q["insert_dead"], [(*row[:7], error, row[7]) for row in rows])
        for row in rows:
            history.count(conn, row[1], history.FAILED)


def enqueue(
    conn: sqlite3.Connection,
    queue: str,
    payload: str,
    run_at: int | None,
    delay: int | None,
    priority: int,
    max_attempts: int,
    expires: int | None,
) -> int:
    """``honker_enqueue``: insert a pending row; returns the job id."""
    cur = conn.execute(
        Q["enqueue"], (queue, payload, run_at, delay, priority, max_attempts, expires)
    )
    return cur.lastrowid  # type: ignore[return-value]  # an INSERT always sets it


FULL_PASS_EVERY_S = 60.0


class Watermarks:
    """Per-connection memory that lets the dead-letter pass skip old rows.

    honker's claim first dead-letters every exhausted claimable row of the
    queue, which scans the whole queue (``attempts >= max_attempts`` has no
    index) and makes claims slow down with depth. The result is the same if
    we only look where such a row can have appeared since the last pass:

    - a processing row whose claim expired: always checked, through the
      processing-deadline index (the range holds only expired claims);
    - a pending row inserted since the last pass (``id`` above the
      AUTOINCREMENT counter we saw): a rowid range;
    - a pending row that became due since the last pass (``run_at`` after the
      last pass's ``now``): a pending-deadline index range.

    A pending row cannot otherwise *become* exhausted: honker's retry only
    returns rows with attempts left. Hand edits of ``_honker_live`` are the
    exception, handled three ways:

    - SQL naming ``_honker_live`` run through our transactions calls
      :meth:`invalidate`, so the next pass is a full one;
    - the claim itself buries the exhausted rows it meets while picking (see
      :func:`_pick`), so a row exhausted by another connection is buried as
      soon as it would have been claimed
      (test_row_exhausted_by_another_connection);
    - a full pass runs every ``FULL_PASS_EVERY_S`` seconds per queue, which
      bounds how long such a row deeper in the queue stays in ``_honker_live``
      (it is never claimed meanwhile).

    Watching ``PRAGMA data_version`` instead would turn every pass into a full
    scan whenever another process commits, which in production is always.
    """

    __slots__ = ("_by_queue",)

    def __init__(self) -> None:
        self._by_queue: dict[str, tuple[int, int, float]] = {}

    def invalidate(self) -> None:
        self._by_queue.clear()


def _deadletter_exhausted(
    conn: sqlite3.Connection,
    queue: str,
    marks: Watermarks | None,
    mark: tuple[int, int, float] | None,
) -> None:
    """The dead-letter pass on its own (pass_marks, then a DELETE if needed);
    ``mark``: the last pass's, or None when a full pass is due (claim_batch)."""
    if marks is None:
        _bury(conn, conn.execute(Q["deadletter_all"], (queue,)).fetchall(), MAX_ATTEMPTS_EXCEEDED)
        return
    last_now, last_seq = (I64_MAX, I64_MAX) if mark is None else mark[:2]
    # The new watermark is read before the pass, in the same write
    # transaction: rows inserted or becoming due after this point are what
    # the next pass visits. The same statement probes the since-ranges.
    now, seq, found = conn.execute(
        Q["claim_marks"], (queue, None, None, None, last_seq, last_now)
    ).fetchone()
    if mark is None:
        marks._by_queue[queue] = (now, seq, time.monotonic())
        _bury(conn, conn.execute(Q["deadletter_all"], (queue,)).fetchall(), MAX_ATTEMPTS_EXCEEDED)
    else:
        _passed(conn, queue, marks, mark, now, seq, found)


def _passed(
    conn: sqlite3.Connection,
    queue: str,
    marks: Watermarks,
    mark: tuple[int, int, float],
    now: int,
    seq: int,
    found: int,
) -> None:
    """Record a since-pass probed at ``(now, seq)``; bury what it found."""
    last_now, last_seq, full_at = mark
    marks._by_queue[queue] = (now, seq, full_at)
    if found:
        dead = conn.execute(Q["deadletter_since"], (queue, last_seq, last_now)).fetchall()
        _bury(conn, dead, MAX_ATTEMPTS_EXCEEDED)


def claim_batch(
    conn: sqlite3.Connection,
    queue: str,
    worker_id: str,
    n: int,
    timeout_s: int,
    marks: Watermarks | None = None,
    opener: Callable[[], sqlite3.Connection] | None = None,
) -> list[ClaimRow]:
    """``honker_claim_batch``: dead-letter exhausted claimables, then claim up to n.

    Semantics:
    - a paused queue (a row in ``_honkerpy_paused``, honker-py's side table)
      claims nothing;
    - a negative ``n`` means no limit; ``0`` claims nothing (the dead-letter
      pass still runs, as in honker);
    - rows are chosen by ``priority DESC, run_at, id`` but returned in the
      UPDATE's visiting order;
    - with ``marks`` the dead-letter pass only visits rows that can have
      become exhausted since the previous pass (see :class:`Watermarks`);
      without, it scans the queue as honker does. The claimed rows and the
      buried rows are disjoint, so when the pass is probed by the claim
      statement itself and buries after it, the outcome is the same;
    - with ``opener`` (a write() that has no transaction yet: ops.WriteOps)
      ``conn`` is in autocommit and ``opener()`` opens the transaction: the
      usual claim, ``n`` rows from the top priority level with nothing to
      bury, is then the one ``claim_top`` statement committed on its own;
      anything more (a full pass, burying, walking lower levels) runs in the
      transaction ``opener`` opens, after it; an empty queue (no due row, no
      claim run out: ``claim_anything``) needs no transaction at all.
    """
    # The last pass's mark, or None when a full pass is due (or no marks).
    mark = None if marks is None else marks._by_queue.get(queue)
    if mark is not None and time.monotonic() - mark[2] >= FULL_PASS_EVERY_S:
        mark = None
    if n <= 0:
        if opener is not None:
            conn = opener()  # the pass runs in the transaction
        _deadletter_exhausted(conn, queue, marks, mark)
        return conn.execute(Q["claim"], (queue, worker_id, n, timeout_s)).fetchall() if n else []
    if opener is not None and mark is None:
        conn, opener = opener(), None  # a full pass first: all of it in the transaction
    if mark is None:
        _deadletter_exhausted(conn, queue, marks, None)  # a full pass first
        last_now, last_seq = I64_MAX, I64_MAX
    else:
        last_now, last_seq = mark[0], mark[1]
    # Usually the top priority level has n due rows: one statement, which
    # also probes the dead-letter ranges since the last pass.
    top = conn.execute(Q["claim_top"], (queue, worker_id, timeout_s, n, last_seq, last_now))
    rows = top.fetchall()
    claimed: list[ClaimRow] = [(r[0], queue, r[1], worker_id, r[2], r[3]) for r in rows]
    if opener is not None:
        if mark is not None and len(rows) == n and not rows[0][6]:
            _passed(conn, queue, marks, mark, *rows[0][4:])  # type: ignore[arg-type]  # nothing to bury
            return claimed
        if not rows and not conn.execute(Q["claim_anything"], (queue,)).fetchall()[0][0]:
            return claimed  # nothing due, nothing ran out: nothing to claim or bury
        try:
            conn = opener()  # the rest in the transaction
        except sqlite3.OperationalError:
            if not rows:
                raise
            # The rows are claimed (committed) and ours: hand them over rather
            # than strand them until their visibility timeout; the burying and
            # the lower levels wait for the next claim.
            return claimed
    if mark is not None:
        if rows:
            _passed(conn, queue, marks, mark, *rows[0][4:])  # type: ignore[arg-type]
        else:
            _deadletter_exhausted(conn, queue, marks, mark)
    if not claimed and conn.execute(Q["queue_paused"], (queue,)).fetchone()[0]:
        return claimed  # paused: claim_top claimed nothing, and nothing below either
    if len(claimed) < n:
        # Walk the levels; rows just claimed are no longer claimable.
        ids = _pick(conn, queue, n - len(claimed))
        if ids:
            more = conn.execute(Q["claim_ids"], (json.dumps(ids), worker_id, timeout_s))
            claimed += more.fetchall()
    return claimed


def _pick(conn: sqlite3.Connection, queue: str, n: int) -> list[int]:
    """Up to ``n`` claimable ids in claim order, burying exhausted rows met on the way.

    Walks priority levels from the highest down (each found by an index
    seek) and, within a level, pages through its due rows in
    ``(run_at, id)`` order. Work is O(log n) per level visited plus the rows
    returned, whatever the depth or the number of delayed rows.
    """
    ids: list[int] = []
    exhausted: list[int] = []
    bound, after = I64_MAX, (I64_MIN, I64_MIN)
    candidates = Q["claim_candidates"]
    while len(ids) < n:
        need = n - len(ids)
        rows = conn.execute(candidates, (queue, bound, *after, need)).fetchall()
        for job_id, _priority, _run_at, is_exhausted in rows:
            (exhausted if is_exhausted else ids).append(job_id)
        if len(rows) == need:
            after = (rows[-1][2], rows[-1][0])  # the level may hold more
            continue
        # This level has no more due rows: go one level down.
        if rows:
            level = rows[0][1]
        else:
            found = conn.execute(Q["claim_level"], (queue, bound)).fetchone()
            if found is None:
                break
            level = found[0]
        if level == I64_MIN:
            break
        bound, after = level - 1, (I64_MIN, I64_MIN)
    if exhausted:
        dead = conn.execute(Q["deadletter_ids"], (json.dumps(exhausted),)).fetchall()
        _bury(conn, dead, MAX_ATTEMPTS_EXCEEDED)
    return ids


def release_claim(conn: sqlite3.Connection, job_id: int, worker_id: str, attempts: int) -> int:
    """Put a claim its consumer never received back as if never made (no
    honker counterpart; honker's own row states only)."""
    return conn.execute(Q["release_claim"], (job_id, worker_id, attempts)).rowcount


def ack(conn: sqlite3.Connection, job_id: int, worker_id: str, queue: str | None = None) -> int:
    """``honker_ack``: delete the row if our claim is still valid; 0 or 1.

    ``queue``: the job's queue if the caller knows it (a claimed Job does),
    which lets the common case skip RETURNING (``ack_in_queue``); a wrong
    one costs a second statement and changes nothing.
    """
    if queue is not None and conn.execute(Q["ack_in_queue"], (job_id, worker_id, queue)).rowcount:
        history.count(conn, queue, history.COMPLETED)
        return 1
    # fetchall: the statement runs to its end (in autocommit that is its commit)
    rows = conn.execute(Q["ack"], (job_id, worker_id)).fetchall()
    if not rows:
        return 0
    history.count(conn, rows[0][0], history.COMPLETED)
    return 1


def ack_batch(conn: sqlite3.Connection, ids_json: str, worker_id: str) -> int:
    """``honker_ack_batch``: ``ids_json`` is a JSON array of ids; returns the count."""
    rows = conn.execute(Q["ack_batch"], (ids_json, worker_id)).fetchall()
    for _, queue in rows:
        history.count(conn, queue, history.COMPLETED)
    return len(rows)


def retry(conn: sqlite3.Connection, job_id: int, worker_id: str, delay_s: int, error: str) -> int:
    """``honker_retry``: back to pending after ``delay_s``, or dead when exhausted.

    Returns 1 on either branch, 0 if the caller does not hold a valid claim.
    """
    row = conn.execute(Q["retry_select"], (job_id, worker_id)).fetchone()
    if row is None:
        return 0
    if row[6] >= row[5]:  # attempts >= max_attempts
        conn.execute(Q["delete_live"], (job_id,))
        _bury(conn, [row], error)
    else:
        conn.execute(Q["retry_requeue"], (job_id, delay_s))
        history.count(conn, row[1], history.RETRIED)
    return 1


def fail(conn: sqlite3.Connection, job_id: int, worker_id: str, error: str) -> int:
    """``honker_fail``: move our validly claimed row to the dead table."""
    rows = conn.execute(Q["fail"], (job_id, worker_id)).fetchall()
    _bury(conn, rows, error)
    return len(rows)


def heartbeat(conn: sqlite3.Connection, job_id: int, worker_id: str, extend_s: int) -> int:
    """``honker_heartbeat``: reset our claim to now + extend_s while still valid."""
    return conn.execute(Q["heartbeat"], (job_id, worker_id, extend_s)).rowcount


def cancel(conn: sqlite3.Connection, job_id: int) -> int:
    """``honker_cancel``: delete a live row whoever holds it; nothing goes to dead."""
    return conn.execute(Q["cancel"], (job_id,)).rowcount


# The SQL type honker reads each JOB_COLUMNS value as (i64 or String).
_JOB_TYPES = (int, int, int, int, int, int, str, int, str, int, str, str)


def get_job(conn: sqlite3.Connection, job_id: int) -> tuple[Any, ...] | None:
    """``honker_get_job``: the live row in ``JOB_COLUMNS`` order (honker/backends/base.py), or None.

    A row holding a value honker cannot read as its column's type (a REAL
    from a delay or timeout past 2^63 s, or a hand edit) is a miss there too.
    """
    row: tuple[Any, ...] | None = conn.execute(Q["get_job"], (job_id,)).fetchone()
    if row is not None and not all(
        v is None or type(v) is t for v, t in zip(row, _JOB_TYPES, strict=True)
    ):
        return None
    return row


def next_claim_at(conn: sqlite3.Connection, queue: str) -> int:
    """``honker_queue_next_claim_at``: the next future deadline of the queue, or 0."""
    try:
        value = conn.execute(Q["next_claim_at"], (queue,)).fetchone()[0]
    except sqlite3.Error:
        return 0  # honker answers 0 on any SQL error
    # ... and on a value it cannot read as an i64 (a REAL deadline past 2^63).
    return value if type(value) is int else 0


def sweep_expired(conn: sqlite3.Connection, queue: str) -> int:
    """``honker_sweep_expired``: move expired *pending* rows to dead."""
    rows = conn.execute(Q["sweep_expired"], (queue,)).fetchall()
    _bury(conn, rows, EXPIRED)
    return len(rows)
