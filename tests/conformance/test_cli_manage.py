"""``honker jobs|requeue|delete-dead``: the job-management API from the command line.

``main()`` runs in-process; one test runs the real ``honker`` script in a child
process with no terminal, where a destructive command without ``--yes`` must
refuse.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

import honker

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def dead_db(db_path: str) -> Iterator[tuple[str, list[int]]]:
    """A file whose queue ``mail`` has 3 dead jobs (users 1, 2, 1) and 1 pending."""
    db = honker.open(db_path)
    q = db.queue("mail")
    ids = [q.enqueue({"user": u}) for u in (1, 2, 1)]
    for _ in ids:
        job = q.claim_one("w")
        assert job is not None and job.fail("smtp down")
    q.enqueue({"user": 3})
    db.close()
    yield db_path, ids


def _stats(path: str) -> dict[str, int]:
    db = honker.open(path)
    try:
        return db.queue("mail").stats()
    finally:
        db.close()


class _Terminal(io.StringIO):
    """A stand-in stdin that says it is a terminal (the answer is typed in advance)."""

    def isatty(self) -> bool:
        return True


def test_jobs_lists_filters_and_pages(run: Run, dead_db: tuple[str, list[int]]) -> None:
    path, ids = dead_db
    status, out, _ = run("jobs", path, "mail", "--json")
    assert status == 0
    rows = json.loads(out)
    assert [r["state"] for r in rows] == ["dead", "dead", "dead", "pending"]
    status, out, _ = run("jobs", path, "mail", "--state", "dead", "--where", "$.user=1", "--json")
    assert [r["id"] for r in json.loads(out)] == [ids[0], ids[2]]
    status, out, _ = run("jobs", path, "mail", "--limit", "2", "--after", str(ids[0]), "--json")
    assert [r["id"] for r in json.loads(out)] == [ids[1], ids[2]]
    status, out, _ = run("jobs", path, "mail")
    assert status == 0 and out.splitlines()[0].split() == [
        "ID", "STATE", "ATTEMPTS", "RUN_AT", "WORKER", "PAYLOAD"
    ]  # fmt: skip
    assert '{"user": 3}' in out
    status, out, _ = run("jobs", path, "nobody")
    assert (status, out) == (0, "(no jobs)\n")


def test_requeue_by_id_where_and_all(run: Run, dead_db: tuple[str, list[int]]) -> None:
    path, ids = dead_db
    status, out, _ = run("requeue", path, "mail", "--id", str(ids[1]), "--yes", "--json")
    assert (status, json.loads(out)) == (0, {"queue": "mail", "requeued": 1})
    status, out, _ = run("requeue", path, "mail", "--where", "$.user=1", "--limit", "1", "--yes")
    assert (status, out) == (0, "requeued 1 dead job(s) of queue 'mail'\n")
    status, out, _ = run("requeue", path, "mail", "--all", "--yes")
    assert status == 0 and out.startswith("requeued 1 ")
    assert _stats(path)["dead"] == 0 and _stats(path)["pending"] == 4


def test_delete_dead_asks_first(
    run: Run, dead_db: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = dead_db
    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    status, out, _ = run("delete-dead", path, "mail", "--all")
    assert status == 1
    assert out == "delete 3 dead job(s) of queue 'mail'? [y/N] nothing changed\n"
    assert _stats(path)["dead"] == 3
    monkeypatch.setattr(sys, "stdin", _Terminal("y\n"))
    status, out, _ = run("delete-dead", path, "mail", "--where", "$.user=2")
    assert status == 0 and out.endswith("deleted 1 dead job(s) of queue 'mail'\n")
    assert _stats(path)["dead"] == 2


def test_usage_errors(
    run: Run, dead_db: tuple[str, list[int]], missing_target: tuple[str, str]
) -> None:
    path, _ = dead_db
    status, _, err = run("requeue", path, "mail")
    assert status == 2 and "--id N" in err
    status, _, err = run("requeue", path, "mail", "--all", "--id", "1")
    assert status == 2 and "--all cannot be combined" in err
    status, _, err = run("jobs", path, "mail", "--where", "user=1")
    assert status == 2 and "PATH=VALUE" in err
    missing, why = missing_target
    status, _, err = run("jobs", missing, "mail")
    assert status == 1 and why in err
    status, out, _ = run("delete-dead", path, "mail", "--id", "999999", "--json")
    assert (status, json.loads(out)) == (0, {"queue": "mail", "deleted": 0})


def test_a_destructive_command_without_a_terminal_refuses(
    dead_db: tuple[str, list[int]],
) -> None:
    path, _ = dead_db
    done = subprocess.run(
        [sys.executable, "-m", "honker", "delete-dead", path, "mail", "--all"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "would delete 3 dead job(s); pass --yes" in done.stderr
    assert _stats(path)["dead"] == 3


def test_pause_and_resume(run: Run, dead_db: tuple[str, list[int]]) -> None:
    path, _ = dead_db
    assert run("pause", path, "mail") == (0, "queue 'mail' is now paused\n", "")
    assert run("pause", path, "mail") == (0, "queue 'mail' was already paused\n", "")
    assert _stats(path)["paused"] is True
    status, out, _ = run("resume", path, "mail", "--json")
    assert (status, json.loads(out)) == (0, {"queue": "mail", "paused": False, "changed": True})
    assert _stats(path)["paused"] is False
