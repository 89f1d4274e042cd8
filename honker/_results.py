"""Job results: stored by job id, optionally with a TTL (docs/spec/python-api.md §11).

``Queue.save_result``/``get_result``/``wait_result``/``sweep_results`` are
these functions; results are keyed by job id alone, whatever the queue.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from . import _txjoin
from ._marshal import duration_arg, int_arg, json_payload
from ._waiting import Wait, until

if TYPE_CHECKING:
    from ._database import Database

# A result wait without a timeout re-reads at least this often.
DEFAULT_RESULT_WAIT_FALLBACK_S = 15.0


def save(db: Database, job_id: int, value: Any, ttl: float | None, tx: Any) -> None:
    """Store ``json.dumps(value)`` for ``job_id``; ``ttl`` None or <= 0: forever."""
    text = json_payload(value)
    ttl_s = 0 if ttl is None else duration_arg("ttl", ttl)
    job = int_arg("job_id", job_id)
    args = (job, text, ttl_s)
    _txjoin.run(db, tx, lambda o: o.save_result(*args), "honker_result_save", args)


def get(db: Database, job_id: int) -> tuple[bool, Any]:
    """``(True, value)`` if a result is stored and unexpired, else ``(False, None)``."""
    job = int_arg("job_id", job_id)
    raw = db._write(lambda o: o.get_result(job))
    return (False, None) if raw is None else (True, json.loads(raw))


async def wait(db: Database, job_id: int, timeout: float | None) -> Any:
    """Wait until ``job_id``'s result is stored; ``TimeoutError`` after ``timeout`` s."""
    updates = db.update_events()
    deadline = None if timeout is None else time.monotonic() + timeout

    def step() -> Any:
        found, value = get(db, job_id)
        if found:
            return value
        if deadline is None:
            return Wait(DEFAULT_RESULT_WAIT_FALLBACK_S)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"wait_result({job_id}) timed out")
        return Wait(left)

    try:
        return await until(updates, step)
    finally:
        updates.close()


def sweep(db: Database) -> int:
    """Delete every expired result in the database; returns the count."""
    return db._write(lambda o: o.sweep_results())
