"""``honker metrics PATH``: the Prometheus text exposition, checked with
prometheus_client's own parser."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import sql
from prometheus_client.parser import text_string_to_metric_families

import honker
from honker.__main__ import main


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(family: Any, **labels: str) -> float:
    (sample,) = [s for s in family.samples if s.labels == labels]
    return float(sample.value)


def test_metrics_text_parses_and_matches_the_database(
    db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = honker.open(db_path)
    q = db.queue('we"ird\\queue')  # label values are escaped
    for i in range(4):
        q.enqueue(i)
    q.enqueue("later", delay=3600)
    a, b = q.claim_batch("w", 2)
    assert a.ack() and b.fail("bad")
    sql(db, "UPDATE _honker_live SET run_at = unixepoch() - 30 WHERE state = 'pending' "
            "AND run_at <= unixepoch()")  # fmt: skip
    db.queue("idle").pause()
    db.close()  # writes the last counts

    assert main(["metrics", db_path]) == 0
    text = capsys.readouterr().out
    fams = _families(text)
    name = 'we"ird\\queue'
    jobs = fams["honker_jobs"]
    assert fams["honker_jobs"].type == "gauge"
    assert _value(jobs, queue=name, state="pending") == 2
    assert _value(jobs, queue=name, state="delayed") == 1
    assert _value(jobs, queue=name, state="processing") == 0
    assert _value(jobs, queue=name, state="dead") == 1
    assert _value(fams["honker_dead_jobs"], queue=name) == 1
    assert _value(fams["honker_oldest_due_age_seconds"], queue=name) >= 30
    assert _value(fams["honker_queue_paused"], queue="idle") == 1
    assert _value(fams["honker_queue_paused"], queue=name) == 0
    # prometheus_client names a counter family without its _total suffix
    assert fams["honker_jobs_completed"].type == "counter"
    assert _value(fams["honker_jobs_completed"], queue=name) == 1
    assert _value(fams["honker_jobs_failed"], queue=name) == 1
    assert _value(fams["honker_jobs_retried"], queue=name) == 0


def test_metrics_of_streams_and_schedules(db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = honker.open(db_path)
    orders = db.stream("orders")
    for i in range(3):
        orders.publish(i)
    orders.save_offset("billing", 1)
    db.stream("audit").publish("x")
    sched = honker.Scheduler(db)
    sched.add(name="nightly", queue="reports", schedule=honker.crontab("0 3 * * *"))
    (row,) = db.query("SELECT next_fire_at FROM _honker_scheduler_tasks")
    db.close()
    assert main(["metrics", db_path]) == 0
    fams = _families(capsys.readouterr().out)
    lag = fams["honker_stream_consumer_lag"]
    assert _value(lag, topic="orders", consumer="billing") == 2
    assert _value(lag, topic="audit", consumer="") == 1
    nxt = fams["honker_schedule_next_fire_timestamp_seconds"]
    assert _value(nxt, name="nightly", queue="reports") == row["next_fire_at"]


def test_metrics_of_an_empty_or_missing_file(
    db_path: str, missing_target: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    honker.open(db_path).close()
    assert main(["metrics", db_path]) == 0
    fams = _families(capsys.readouterr().out)
    assert fams["honker_jobs"].samples == []
    missing, why = missing_target
    assert main(["metrics", missing]) == 1
    assert why in capsys.readouterr().err
