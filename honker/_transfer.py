"""Moving a database to another backend: ``honker migrate SOURCE TARGET``.

The usual move is a SQLite file to PostgreSQL, when an app outgrows one
machine; any pair works (PostgreSQL to SQLite, file to file), since both ends
go through the storage boundary's ``transfer_*`` operations
(``honker/backends/base.py``, ``TRANSFER_COLUMNS``).

Semantics:
- moved: live jobs (pending, delayed, and processing ones with their claim),
  dead jobs, results, stream events with their offsets, consumer offsets,
  schedules, and the id counters; ids, offsets, attempts and timestamps are
  kept, so a saved result still belongs to its job id and a consumer resumes
  after the same event. Not moved: notifications (transient), locks and rate
  limit windows (short-lived), honker-py's pause flags and throughput
  counters (docs/migrate.md);
- one transaction on each side: the source is read under a lock that makes
  its writers wait (so nothing committed during the copy is missed), the
  target is written in one transaction that commits only after every table's
  row count matches the source's: a failed move leaves the target as it was;
- refused when the target already holds jobs, events or schedules (moving
  twice would duplicate ids), and while a worker holds a live claim on the
  source (its ack would go to the old database) unless ``force``: forced,
  claimed jobs arrive claimed and are taken again when their claim expires;
- ``dry_run`` counts what would move and writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._database import Database
from ._errors import TransferError
from .backends import is_postgres
from .backends.base import TRANSFER_COLUMNS, Ops

DEFAULT_BATCH = 5000
# What is moved and must be empty in the target (the counters aside), as people say it.
TABLES = {
    "jobs": "live jobs (pending, delayed, processing)",
    "dead": "dead jobs",
    "results": "results",
    "stream": "stream events",
    "stream_consumers": "stream consumer offsets",
    "schedules": "schedules",
}
assert set(TABLES) | {"sequences"} == set(TRANSFER_COLUMNS)


@dataclass
class TransferReport:
    """What a move found and did: per table, rows in the source and in the target after."""

    source: dict[str, int]
    target: dict[str, int] = field(default_factory=dict)
    held_claims: int = 0
    dry_run: bool = False


def _open_source(where: str) -> Database:
    if not is_postgres(where) and not os.path.isfile(where.removeprefix("file:").split("?")[0]):
        raise TransferError(f"the source database file does not exist: {where}")
    return Database(where, history=False)


def migrate(
    source: str,
    target: str,
    *,
    dry_run: bool = False,
    force: bool = False,
    batch: int = DEFAULT_BATCH,
) -> TransferReport:
    """Copy every job, result, stream and schedule of ``source`` into ``target``.

    Both are what :func:`honker.open` accepts (a file path or a
    ``postgresql://`` URL). The source must exist; a target file is created
    when missing, a target schema as by any open. See the module's
    Semantics. Raises :class:`TransferError` when refused or when the counts
    differ (nothing is committed then).

    Example::

        report = honker.migrate("app.db", "postgresql://app@db.internal/app", dry_run=True)
        print(report.source)   # {"jobs": 1200, "dead": 3, ...}
    """
    if batch < 1:
        raise TransferError(f"batch must be at least 1, got {batch}")
    if source == target:
        raise TransferError("the source and the target are the same database")
    src = _open_source(source)
    try:
        dst = Database(target, history=False)
        try:
            return src._write(lambda s: dst._write(lambda d: _move(s, d, dry_run, force, batch)))
        finally:
            dst.close()
    finally:
        src.close()


def _move(src: Ops, dst: Ops, dry_run: bool, force: bool, batch: int) -> TransferReport:
    src.transfer_freeze()
    report = TransferReport({t: src.transfer_count(t) for t in TABLES}, dry_run=dry_run)
    report.held_claims = src.held_claims()
    if report.held_claims and not force:
        raise TransferError(
            f"{report.held_claims} job(s) are claimed by running workers; stop the workers "
            "(or wait for their claims to end) and run again, or pass --force to move the "
            "claimed jobs as they are (they are taken again when their claim expires)"
        )
    present = {t: n for t in TABLES if (n := dst.transfer_count(t))}
    if present:
        listed = ", ".join(f"{n} {TABLES[t]}" for t, n in present.items())
        raise TransferError(
            f"the target already holds honker data ({listed}); move into an empty database"
        )
    if dry_run:
        return report
    for table in TABLES:
        for rows in src.transfer_export(table, batch):
            dst.transfer_import(table, rows)
    # The counters are raised even when the source has none (ids came in with the rows).
    dst.transfer_import(
        "sequences", [r for rows in src.transfer_export("sequences", batch) for r in rows]
    )
    report.target = {t: dst.transfer_count(t) for t in TABLES}
    wrong = {t: (n, report.target[t]) for t, n in report.source.items() if report.target[t] != n}
    if wrong:
        listed = ", ".join(
            f"{t}: {a} in the source, {b} in the target" for t, (a, b) in wrong.items()
        )
        raise TransferError(f"row counts differ after the copy ({listed}); nothing was committed")
    return report
