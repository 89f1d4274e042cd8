"""Job management on PostgreSQL: what differs from SQLite (docs/postgres.md)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from helpers import sql

import honker


def test_a_payload_that_is_not_json_matches_no_filter_and_breaks_nothing(
    db: honker.Database,
) -> None:
    """The payload column is text; a hand-written row that is not JSON is
    never matched by a filter (SQLite's json_extract would fail the query)."""
    q = db.queue("q", max_attempts=1)
    good = q.enqueue({"user": 1})
    bad = q.enqueue({"user": 1})
    sql(db, "UPDATE _honker_live SET payload = 'not json {' WHERE id = ?", bad)
    assert [r["id"] for r in q.jobs(where={"$.user": 1})] == [good]
    assert [r["id"] for r in q.jobs(where={"$.missing": None})] == [good]
    assert [r["payload"] for r in q.jobs() if r["id"] == bad] == ["not json {"]
    assert q.cancel_where({"$.user": 1}) == 1
    job = q.claim_one("w")
    assert job is not None and job.id == bad and job.fail("x")
    assert q.requeue_dead(where={"$.user": 1}) == 0
    assert q.delete_dead(where={"$.user": None}) == 0
    assert q.delete_dead([bad]) == 1


def test_a_path_jsonpath_cannot_read_is_a_named_error(db: honker.Database) -> None:
    q = db.queue("q")
    q.enqueue({"a": [1]})
    with pytest.raises(honker.HonkerError, match="jsonpath"):
        q.jobs(where={"$.a[": 1})
    assert [r["payload"] for r in q.jobs(where={"$.a[last]": 1})] == [{"a": [1]}]


def test_the_pause_is_checked_by_every_claimer_process_wide(
    db: honker.Database, admin: psycopg.Connection[Any], schema: str
) -> None:
    """The pause is a row of _honkerpy_paused: a plain INSERT by anyone pauses."""
    q = db.queue("q")
    q.enqueue(1)
    admin.execute(f"INSERT INTO {schema}._honkerpy_paused (queue) VALUES ('q')")
    assert q.paused and q.claim_one("w") is None
    q.resume()
    assert q.claim_one("w") is not None
