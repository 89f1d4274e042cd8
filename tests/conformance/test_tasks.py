"""Task decorators, the registry, TaskResult, Retryable and load_app (docs/spec/python-api.md §16).

Workers are exercised in test_worker.py; here only the producer side: what a
decorated call writes, what the registry holds, and how results are awaited.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import honker
from honker import _tasks
from honker._tasks import (
    _DEFAULT_RESULT_TTL_S,
    _ENVELOPE,
    Retryable,
    TaskRegistry,
    TaskResult,
    TaskSpec,
    _TaskWrapper,
    load_app,
    registry,
)

pytestmark = pytest.mark.usefixtures("clean_registry")


def envelope(
    name: str, args: list[object] | None = None, kwargs: dict[str, object] | None = None
) -> str:
    return json.dumps({_ENVELOPE: {"task": name, "args": args or [], "kwargs": kwargs or {}}})


# -- constants and exports --------------------------------------------------------


def test_constants_and_public_names() -> None:
    assert _ENVELOPE == "__honker_task__"
    assert _DEFAULT_RESULT_TTL_S == 3600
    assert honker.Retryable is Retryable
    assert honker.TaskResult is TaskResult
    assert honker.registry is registry
    assert honker.registry() is _tasks._GLOBAL_REGISTRY


# -- decorating ---------------------------------------------------------------------


def test_default_name_is_module_qualname_and_metadata_is_copied(db: honker.Database) -> None:
    q = db.queue("q")

    @q.task()
    def send(to: str) -> str:
        """Send a message."""
        return to

    assert isinstance(send, _TaskWrapper)
    assert (
        send.name
        == f"{__name__}.test_default_name_is_module_qualname_and_metadata_is_copied.<locals>.send"
    )
    assert send.__name__ == "send"
    assert send.__doc__ == "Send a message."
    assert send.__wrapped__ is send.fn
    assert send._queue is q
    assert registry().get(send.name) is send.spec


def test_spec_fields_from_decorator_options(db: honker.Database) -> None:
    q = db.queue("q", max_attempts=7)

    @q.task(
        "explicit",
        timeout_s=2.5,
        retry_delay_s=9,
        priority=4,
        expires_s=60,
        store_result=False,
        result_ttl_s=10,
    )
    def f() -> None: ...

    @q.task("defaults")
    def g() -> None: ...

    assert f.spec == TaskSpec(
        name="explicit",
        fn=f.fn,
        queue_name="q",
        retries=7,
        retry_delay_s=9,
        timeout_s=2.5,
        priority=4,
        expires_s=60,
        store_result=False,
        result_ttl_s=10,
    )
    # retries defaults to the queue's max_attempts; the rest to honker's defaults.
    assert g.spec == TaskSpec(name="defaults", fn=g.fn, queue_name="q", retries=7)
    assert (g.spec.retry_delay_s, g.spec.store_result, g.spec.result_ttl_s) == (60, True, 3600)


def test_call_enqueues_the_envelope_and_returns_a_task_result(db: honker.Database) -> None:
    q = db.queue("mail")

    @q.task("mail.send", retries=5, priority=3, expires_s=120)
    def send(to: str, *, subject: str = "") -> None:
        raise AssertionError("a decorated call must not run the function")

    before = int(time.time())
    result = send("a@example.com", subject="hi")
    assert isinstance(result, TaskResult)
    assert repr(result) == f"TaskResult(queue='mail', id={result.id})"
    row = q.get_job(result.id)
    assert row is not None
    assert row["payload"] == (
        '{"__honker_task__": {"task": "mail.send", "args": ["a@example.com"], '
        '"kwargs": {"subject": "hi"}}}'
    )
    assert row["queue"] == "mail"
    assert row["state"] == "pending"
    assert (row["priority"], row["max_attempts"]) == (3, 5)
    assert before + 120 <= row["expires_at"] <= int(time.time()) + 121


def test_tuple_args_become_lists_and_unserialisable_args_raise(db: honker.Database) -> None:
    q = db.queue("q")

    @q.task("t")
    def t(*args: object) -> None: ...

    r = t((1, 2), "x")
    assert json.loads(q.get_job(r.id)["payload"]) == {  # type: ignore[index]
        _ENVELOPE: {"task": "t", "args": [[1, 2], "x"], "kwargs": {}}
    }
    with pytest.raises(TypeError):
        t(object())
    assert db.query("SELECT COUNT(*) AS n FROM _honker_live")[0]["n"] == 1


def test_call_local_runs_the_function(db: honker.Database) -> None:
    @db.task()
    def add(a: int, b: int) -> int:
        return a + b

    assert add.call_local(2, b=3) == 5
    assert db.query("SELECT COUNT(*) AS n FROM _honker_live")[0]["n"] == 0


def test_database_task_forwards_to_the_named_queue(db: honker.Database) -> None:
    @db.task(queue="other", name="named")
    def f() -> None: ...

    @db.task()
    def g() -> None: ...

    assert f.spec.queue_name == "other" and f._queue is db.queue("other")
    assert g.spec.queue_name == "default"
    assert registry().queues() == {"other", "default"}


def test_decorator_without_parentheses_is_a_clear_type_error(db: honker.Database) -> None:
    q = db.queue("q")
    with pytest.raises(TypeError, match=r"write @queue.task\(\)"):

        @q.task  # type: ignore[arg-type]
        def f() -> None: ...


def test_retries_zero_pins_max_attempts_zero(db: honker.Database) -> None:
    @db.task(name="never", retries=0)
    def never() -> None: ...

    r = never()
    assert (
        db.query("SELECT max_attempts FROM _honker_live WHERE id=?", [r.id])[0]["max_attempts"] == 0
    )
    # honker (sharp edge 9): such a job is dead-lettered unrun on the next claim.
    assert db.queue("default").claim_one("w") is None
    dead = db.query("SELECT last_error FROM _honker_dead WHERE id=?", [r.id])
    assert dead == [{"last_error": "max attempts exceeded"}]


# -- registry -----------------------------------------------------------------------


def test_registry_names_sorted_queues_and_get(db: honker.Database) -> None:
    @db.task(queue="b", name="zeta")
    def z() -> None: ...

    @db.task(queue="a", name="alpha")
    def a() -> None: ...

    reg = registry()
    assert reg.names() == ["alpha", "zeta"]
    assert reg.queues() == {"a", "b"}
    assert reg.get("alpha") is a.spec
    assert reg.get("missing") is None


def test_duplicate_task_name_raises_value_error(db: honker.Database) -> None:
    @db.task(name="dup")
    def first() -> None: ...

    with pytest.raises(ValueError) as info:

        @db.task(name="dup")
        def second() -> None: ...

    assert str(info.value).startswith(
        "duplicate task name 'dup' — two functions registered under the same name: "
    )
    assert registry().get("dup") is first.spec


def test_same_function_registered_again_replaces_its_spec(db: honker.Database) -> None:
    def fn() -> None: ...

    db.task(name="same", retries=2)(fn)
    db.task(name="same", retries=9)(fn)
    spec = registry().get("same")
    assert spec is not None and spec.retries == 9


def test_private_registry_is_independent() -> None:
    reg = TaskRegistry()
    reg.register(TaskSpec(name="x", fn=print, queue_name="q"))
    assert reg.names() == ["x"]
    assert registry().names() == []


# -- TaskResult -----------------------------------------------------------------------


def test_task_result_get_returns_a_stored_result(db: honker.Database) -> None:
    q = db.queue("q")

    @q.task("t")
    def t() -> None: ...

    r = t()
    q.save_result(r.id, {"ok": [1, 2]})
    assert r.get(timeout=5) == {"ok": [1, 2]}


def test_task_result_get_times_out(db: honker.Database) -> None:
    @db.task(name="t")
    def t() -> None: ...

    with pytest.raises(asyncio.TimeoutError):
        t().get(timeout=0.05)


async def test_task_result_aget_waits_for_the_result(db: honker.Database) -> None:
    q = db.queue("q")

    @q.task("t")
    def t() -> None: ...

    r = t()
    waiter = asyncio.create_task(r.aget(timeout=10))
    await asyncio.sleep(0)  # let it subscribe and look once
    assert not waiter.done()
    q.save_result(r.id, 42)
    assert await asyncio.wait_for(waiter, 10) == 42


async def test_task_result_get_inside_a_running_loop_raises(db: honker.Database) -> None:
    @db.task(name="t")
    def t() -> None: ...

    with pytest.raises(RuntimeError, match="aget"):
        t().get(timeout=0)


# -- Retryable ------------------------------------------------------------------------


def test_retryable_stores_an_int_delay_and_message() -> None:
    r = Retryable("slow down", delay_s=7.9)
    assert isinstance(r, Exception)
    assert (str(r), r.delay_s) == ("slow down", 7)
    assert Retryable().delay_s == 60 and str(Retryable()) == ""


# -- load_app -------------------------------------------------------------------------


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh importable module ``taskmod_<n>`` with ``app = object()`` and ``nothing = None``."""
    name = f"taskmod_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            app = object()
            nothing = None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_load_app_returns_the_attribute(app_module: str) -> None:
    assert load_app(f"{app_module}:app") is sys.modules[app_module].app  # type: ignore[attr-defined]


def test_load_app_error_texts(app_module: str) -> None:
    with pytest.raises(ValueError) as info:
        load_app(app_module)
    assert str(info.value) == f"target must be 'module.path:variable', got {app_module!r}"
    with pytest.raises(AttributeError) as ainfo:
        load_app(f"{app_module}:missing")
    assert str(ainfo.value) == f"{app_module} has no attribute 'missing'"
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        load_app(f"{app_module}:nothing")
    with pytest.raises(ImportError):
        load_app("no_such_module_for_honker_tests:db")


# -- periodic_task --------------------------------------------------------------------


def test_periodic_task_registers_and_writes_the_scheduler_row(db: honker.Database) -> None:
    pytest.importorskip("honker._scheduler")
    schedule = honker.crontab("*/5 * * * *")
    q = db.queue("cron")

    @q.periodic_task(schedule, name="tick", priority=2, expires_s=30)
    def tick() -> None: ...

    @db.periodic_task(honker.every_s(10), scheduler_name="every-10", queue="cron")
    def other() -> None: ...

    assert isinstance(tick, _TaskWrapper)
    assert tick.spec == TaskSpec(
        name="tick", fn=tick.fn, queue_name="cron", priority=2, expires_s=30, store_result=False
    )
    rows = {r["name"]: r for r in db.query("SELECT * FROM _honker_scheduler_tasks")}
    assert set(rows) == {"tick", "every-10"}
    tick_row = rows["tick"]
    assert (tick_row["queue"], tick_row["cron_expr"]) == ("cron", "*/5 * * * *")
    assert tick_row["payload"] == envelope("tick")
    assert (tick_row["priority"], tick_row["expires_s"], tick_row["max_attempts"]) == (2, 30, 3)
    assert tick_row["next_fire_at"] > time.time() - 1
    assert rows["every-10"]["payload"] == envelope(other.name)
    assert rows["every-10"]["cron_expr"] == "@every 10s"


def test_periodic_task_with_a_bad_schedule_registers_nothing(db: honker.Database) -> None:
    pytest.importorskip("honker._scheduler")
    with pytest.raises(AttributeError):  # honker: a plain string has no .expr

        @db.periodic_task("*/5 * * * *", name="bad")
        def bad() -> None: ...

    assert registry().get("bad") is None
    assert db.query("SELECT COUNT(*) AS n FROM _honker_scheduler_tasks")[0]["n"] == 0
