"""What the ``honker migrate`` tests compare: every honker table's rows, read
the same way on both backends (tests/conformance/test_migrate.py,
tests/postgres/test_migrate_pg.py)."""

from __future__ import annotations

from typing import Any

import honker

# Each honker table, read the same way on both backends.
DUMPS = {
    "jobs": "SELECT id, queue, payload, state, priority, run_at, worker_id, claim_expires_at,"
    " attempts, max_attempts, created_at, expires_at FROM _honker_live ORDER BY id",
    "dead": "SELECT id, queue, payload, priority, run_at, attempts, max_attempts, last_error,"
    " created_at, died_at FROM _honker_dead ORDER BY id",
    "results": "SELECT job_id, value, created_at, expires_at FROM _honker_results ORDER BY job_id",
    "stream": 'SELECT "offset", topic, key, payload, created_at FROM _honker_stream'
    ' ORDER BY "offset"',
    "stream_consumers": 'SELECT name, topic, "offset" FROM _honker_stream_consumers'
    " ORDER BY name, topic",
    "schedules": "SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at,"
    " enabled, max_attempts FROM _honker_scheduler_tasks ORDER BY name",
}


def dump(db: honker.Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every honker table's rows, as plain tuples (booleans and ints compare equal)."""
    return {t: [tuple(r.values()) for r in db.query(sql)] for t, sql in DUMPS.items()}
