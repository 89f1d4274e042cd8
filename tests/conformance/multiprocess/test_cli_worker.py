"""``python -m honker worker`` in a real child process (docs/spec/python-api.md §17).

The child imports tests/fixtures/taskapp.py (``TASKAPP_DB`` names the file),
serves the jobs this process enqueues, and on SIGTERM/SIGINT hands its
in-flight claim back (retry, delay 0) and exits 0 with
``honker worker: stopped cleanly``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import spawn_child, wait_until

import honker
from honker._tasks import _ENVELOPE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TASKS = ["taskapp.add", "taskapp.hang", "taskapp.shout"]


@pytest.fixture
def app_db(
    db_path: str, open_db: Callable[..., honker.Database], monkeypatch: pytest.MonkeyPatch
) -> honker.Database:
    """The parent's handle on the file the child's taskapp opens."""
    monkeypatch.setenv("TASKAPP_DB", db_path)
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES))  # spawn_child adds the repository
    return open_db(db_path)


def call(db: honker.Database, queue: str, task: str, *args: Any, **opts: Any) -> int:
    return db.queue(queue).enqueue(
        {_ENVELOPE: {"task": task, "args": list(args), "kwargs": {}}}, **opts
    )


def result(db: honker.Database, job_id: int) -> Any:
    found, value = db.queue("default").get_result(job_id)
    return (value,) if found else None


def test_worker_runs_jobs_and_hands_back_its_claim_on_sigterm(app_db: honker.Database) -> None:
    added = call(app_db, "default", "taskapp.add", 2, 3, max_attempts=3)
    shouted = call(app_db, "loud", "taskapp.shout", "hi", max_attempts=3)
    child = spawn_child("honker", "worker", "taskapp:db", "--concurrency", "1", ready=None)
    pid = child.proc.pid
    assert child.readline(timeout=30) == (
        f"honker worker: pid={pid} queues=['default', 'loud'] concurrency=1 tasks={TASKS!r}"
    )
    assert wait_until(lambda: result(app_db, added), timeout=20) == (5,)
    assert wait_until(lambda: result(app_db, shouted), timeout=20) == ("HI",)

    hung = call(app_db, "default", "taskapp.hang", max_attempts=5)
    child.expect("hanging", timeout=20)
    row = app_db.queue("default").get_job(hung)
    assert row is not None and row["state"] == "processing"
    assert row["worker_id"] == f"honker-worker-{pid}-default-0"

    child.proc.send_signal(signal.SIGTERM)
    child.expect("honker worker: stopped cleanly", timeout=20)
    assert child.wait(timeout=20) == 0
    assert child.stderr == ""
    row = app_db.queue("default").get_job(hung)
    assert row is not None
    assert (row["state"], row["attempts"], row["worker_id"]) == ("pending", 1, None)
    now = app_db.query("SELECT unixepoch() AS now")[0]["now"]
    assert row["run_at"] <= now  # handed back with delay 0: due at once


def test_worker_stops_cleanly_on_sigint_with_queue_filter(app_db: honker.Database) -> None:
    child = spawn_child(
        "honker", "worker", "taskapp:db", "--queue", "loud", "--concurrency", "2", ready=None
    )
    assert child.readline(timeout=30) == (
        f"honker worker: pid={child.proc.pid} queues=['loud'] concurrency=2 tasks={TASKS!r}"
    )
    added = call(app_db, "default", "taskapp.add", 1, 1)  # not served: --queue loud only
    shouted = call(app_db, "loud", "taskapp.shout", "x")
    assert wait_until(lambda: result(app_db, shouted), timeout=20) == ("X",)
    child.proc.send_signal(signal.SIGINT)
    child.expect("honker worker: stopped cleanly", timeout=20)
    assert child.wait(timeout=20) == 0
    assert app_db.queue("default").get_job(added)["state"] == "pending"  # type: ignore[index]


def test_worker_list_in_a_child(app_db: honker.Database, backend: str) -> None:
    child = spawn_child("honker", "worker", "taskapp:db", "--list", ready=None)
    assert child.readline(timeout=30) == "Registered tasks on taskapp:db:"
    assert [child.readline() for _ in TASKS] == [
        "  taskapp.add  queue=default",
        "  taskapp.hang  queue=default",
        "  taskapp.shout  queue=loud",
    ]
    assert child.wait(timeout=20) == 0
    if backend == "sqlite":
        assert os.path.exists(app_db.path)
    else:  # the child's schema is the parent's: still there, still usable
        assert app_db.queue("default").enqueue(1) > 0
