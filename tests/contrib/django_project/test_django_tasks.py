"""Django's Tasks framework on honker, end to end: a real project, a real
SQLite file, ``manage.py honker_worker`` child processes."""

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import TestCase
from django.utils import timezone
from djtasks import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
    task_enqueued,
)
from helpers import Child, wait_until
from shop import tasks
from shop.models import Event, Order

import honker
from honker.contrib.django import TaskBackend
from honker.contrib.django.checks import check_backend

HERE = Path(__file__).resolve().parent
DB = os.environ["HONKER_DJANGO_DB"]


def manage(*args: str) -> Child:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return Child([sys.executable, str(HERE / "manage.py"), *args], env)


def start_worker(*args: str) -> Child:
    child = manage("honker_worker", *args)
    line = child.readline(timeout=30)
    assert line.startswith("honker_worker ready"), line
    return child


def stop_worker(child: Child) -> None:
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(timeout=20) == 0
    lines = []
    while True:
        try:
            lines.append(child.readline(timeout=1))
        except AssertionError:
            break
    assert "honker_worker: stopped" in lines


@pytest.fixture(scope="module")
def worker() -> Iterator[Child]:
    child = start_worker("--queue", "default", "--concurrency", "2")
    try:
        yield child
    finally:
        stop_worker(child)


def live_jobs(queue: str = "default") -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM _honker_live WHERE queue = %s", [queue])
        return cur.fetchone()[0]


def finished(result_id: str, backend: str = "default"):
    def check():
        r = task_backends[backend].get_result(result_id)
        return r if r.is_finished else None

    return wait_until(check, timeout=30, message=f"result {result_id} finished")


def test_the_backend_declares_every_feature() -> None:
    backend = task_backends["default"]
    assert isinstance(backend, TaskBackend)
    assert backend.supports_defer and backend.supports_async_task
    assert backend.supports_get_result and backend.supports_priority
    assert backend.path == DB
    assert backend.shared_connection() is connections["default"]


def test_rollback_leaves_no_job_and_no_result() -> None:
    order = Order.objects.create(sku="warm-up", qty=1)
    tasks.ship_order.enqueue(order.pk)  # creates honker's tables (committed at once)
    before = live_jobs("prio")
    with pytest.raises(RuntimeError, match="abort"), transaction.atomic():
        order = Order.objects.create(sku="rolled-back", qty=1)
        result = tasks.record.enqueue("rolled-back")
        assert live_jobs("prio") == before + 1  # visible inside the transaction
        assert tasks.record.get_result(result.id).status == TaskResultStatus.READY
        raise RuntimeError("abort")
    assert live_jobs("prio") == before
    assert not Order.objects.filter(sku="rolled-back").exists()
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(result.id)


def test_commit_runs_the_task_in_a_worker_process(worker: Child) -> None:
    with transaction.atomic():
        order = Order.objects.create(sku="book", qty=2)
        result = tasks.ship_order.enqueue(order.pk)
    assert result.status == TaskResultStatus.READY
    done = finished(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == {"shipped": order.pk, "sku": "book"}
    assert Order.objects.filter(note=f"shipped {order.pk}").exists()
    assert done.attempts == 1 and done.worker_ids[0].startswith("honker-django-")
    assert done.enqueued_at <= done.started_at <= done.finished_at
    assert done.args == [order.pk] and done.errors == []
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == done.return_value
    # Django's signals, sent by the worker process after each commit (shop/apps.py).
    expected = {f"started {result.id} RUNNING", f"finished {result.id} SUCCESSFUL"}

    def tags():
        return set(Event.objects.filter(tag__contains=result.id).values_list("tag", flat=True))

    wait_until(lambda: tags() == expected, timeout=10, message=f"signals: {tags()}")
    with connection.cursor() as cur:  # acked: the job row is gone
        cur.execute("SELECT count(*) FROM _honker_live WHERE id = %s", [_job_id(result.id)])
        assert cur.fetchone()[0] == 0


def test_a_raising_task_fails_after_its_attempts_with_tracebacks(worker: Child) -> None:
    result = tasks.charge.enqueue(42)
    done = finished(result.id)
    assert done.status == TaskResultStatus.FAILED
    assert done.attempts == 2  # MAX_ATTEMPTS in the test settings
    assert [e.exception_class_path for e in done.errors] == ["shop.tasks.PaymentDeclined"] * 2
    assert done.errors[0].exception_class is tasks.PaymentDeclined
    assert "declined 42" in done.errors[-1].traceback
    assert 'raise PaymentDeclined(f"declined {amount}")' in done.errors[-1].traceback
    with pytest.raises(ValueError, match="Task failed"):
        _ = done.return_value
    dead = honker.open(DB)
    try:
        rows = dead.query("SELECT id FROM _honker_dead WHERE id = ?", [_job_id(result.id)])
    finally:
        dead.close()
    assert len(rows) == 1


def _job_id(result_id: str) -> int:
    import json

    with connection.cursor() as cur:
        cur.execute("SELECT value FROM _honker_results WHERE job_id = %s", [int(result_id)])
        return json.loads(cur.fetchone()[0])["job_id"]


def test_a_failed_attempt_is_retried(worker: Child) -> None:
    result = tasks.flaky.enqueue("a")
    done = finished(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == "ok a"
    assert done.attempts == 2 and len(done.errors) == 1


def test_an_async_task_runs(worker: Child) -> None:
    done = finished(tasks.add_async.enqueue(2, 3).id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 5


def test_aenqueue_and_aget_result(worker: Child) -> None:
    async def go():
        result = await tasks.add_async.aenqueue(5, 6)
        fetched = await tasks.add_async.aget_result(result.id)
        return result, fetched

    result, fetched = asyncio.run(go())
    # The running worker may have picked it up already: any state but FAILED.
    assert fetched.status != TaskResultStatus.FAILED and fetched.args == [5, 6]
    assert finished(result.id).return_value == 11


def test_a_long_task_keeps_its_claim() -> None:
    # Two workers on the queue: had the claim expired, the second would run it again.
    child = start_worker("--backend", "short", "--queue", "slow", "--concurrency", "2")
    try:
        result_id = finished(tasks.nap.enqueue(3.5).id, backend="short").id
    finally:
        stop_worker(child)  # waits for running tasks: a second run would be recorded
    done = task_backends["short"].get_result(result_id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.attempts == 1


def test_takes_context(worker: Child) -> None:
    result = tasks.whoami.enqueue()
    done = finished(result.id)
    assert done.return_value == {"id": result.id, "attempt": 1}


def test_run_after_is_honoured(worker: Child) -> None:
    run_after = timezone.now() + timedelta(seconds=2)
    result = tasks.add_async.using(run_after=run_after).enqueue(1, 1)
    assert task_backends["default"].get_result(result.id).status == TaskResultStatus.READY
    done = finished(result.id)
    assert done.started_at >= run_after
    assert done.task.run_after == run_after


def test_priority_orders_the_queue() -> None:
    # Enqueued while no worker serves "prio": the worker then takes them by priority.
    Event.objects.filter(tag__startswith="record ").delete()
    low = tasks.record.using(priority=-10).enqueue("low")
    high = tasks.record.using(priority=50).enqueue("high")
    mid = tasks.record.enqueue("mid")
    child = start_worker("--queue", "prio", "--concurrency", "1")
    try:
        for r in (low, high, mid):
            finished(r.id)
    finally:
        stop_worker(child)
    order = list(
        Event.objects.filter(tag__startswith="record ").order_by("id").values_list("tag", flat=True)
    )
    assert order == ["record high", "record mid", "record low"]
    assert task_backends["default"].get_result(high.id).task.priority == 50


def test_queue_names_are_checked_against_queues() -> None:
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        tasks.record.using(queue_name="nope")


def test_task_enqueued_signal_is_sent() -> None:
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append(task_result.id)

    task_enqueued.connect(receiver)
    try:
        result = tasks.record.enqueue("signal")
    finally:
        task_enqueued.disconnect(receiver)
    assert seen == [result.id]


def test_another_file_enqueues_on_commit(tmp_path: Path) -> None:
    backend = task_backends["other"]
    assert backend.shared_connection() is None
    task = tasks.add_async.using(backend="other")
    with pytest.raises(RuntimeError), transaction.atomic():
        gone = task.enqueue(1, 2)
        raise RuntimeError
    with transaction.atomic():
        kept = task.enqueue(3, 4)
        with pytest.raises(TaskResultDoesNotExist):
            backend.get_result(kept.id)  # written only when the block commits
    assert backend.get_result(kept.id).status == TaskResultStatus.READY
    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result(gone.id)
    assert backend.queue("default").stats()["pending"] == 1
    backend.close()


def test_eager_runs_on_commit_in_a_test_case() -> None:
    task = tasks.ship_order.using(backend="eager")
    order = Order.objects.create(sku="eager", qty=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        with transaction.atomic():
            result = task.enqueue(order.pk)
            assert result.status == TaskResultStatus.READY
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert task_backends["eager"].get_result(result.id).return_value["sku"] == "eager"
    failed = tasks.charge.using(backend="eager").enqueue(1)  # no transaction: runs now
    assert failed.status == TaskResultStatus.FAILED and failed.attempts == 2


def test_checks_warn_about_wal_and_transaction_mode() -> None:
    backend = task_backends["default"]
    assert check_backend(backend) == []
    assert [m for m in checks.run_checks() if m.id.startswith("honker")] == []
    db = {**settings.DATABASES["default"], "OPTIONS": {}, "NAME": str(HERE / "no-such.sqlite3")}
    messages = check_backend(backend, {"default": db})
    assert [m.id for m in messages] == ["honker.W001", "honker.W002"]
    assert "journal_mode=WAL" in messages[0].hint
    assert '"IMMEDIATE"' in messages[1].hint


def test_worker_list() -> None:
    child = manage("honker_worker", "--list")
    assert child.wait(timeout=30) == 0
    out = []
    while True:
        try:
            out.append(child.readline(timeout=1))
        except AssertionError:
            break
    assert "shop.tasks.ship_order  queue=default priority=0" in out
    assert "shop.tasks.record  queue=prio priority=0" in out
    assert out[-1] == "queues: default, prio"


def test_prune_deletes_finished_results(worker: Child) -> None:
    done = finished(tasks.add_async.enqueue(1, 2).id)
    waiting = tasks.record.enqueue("not served")  # "prio" has no worker now: READY
    out = StringIO()
    call_command("honker_prune_results", "--days", "1", stdout=out)
    task_backends["default"].get_result(done.id)  # finished just now: kept
    call_command("honker_prune_results", "--days", "0", stdout=out)
    assert "pruned 0 finished" in out.getvalue().splitlines()[0]
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(done.id)
    assert task_backends["default"].get_result(waiting.id).status == TaskResultStatus.READY
