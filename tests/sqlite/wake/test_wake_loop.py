"""The kernel backend's per-loop fast path (honker/backends/sqlite/watch/: watcher.py,
detectors.LoopWaker).

A coroutine waiting on a subscription is woken by its own event loop: the
hub gives each loop a :class:`LoopWaker` (its own inotify instance, in the
loop's selector only while a coroutine of that loop waits), and the watcher
thread watches kernel events only for the waiters it must serve itself
(``wait_sync`` in a plain thread, or a loop without ``add_reader``). Here:

- who serves which waiter (``hub._thread_served``, ``hub._wakers``), and that
  each is woken by a fast path, not by the thread's 100 ms safety check;
- that a commit between subscribing and the first wait is not left to the
  safety check;
- that every waker's inotify descriptor is closed, whether the Database is
  closed while a coroutine waits or after its loop is gone (the autouse
  ``no_leaks`` fixture fails any test that leaks one);
- that rollbacks still do not wake, and a child process's commits all reach
  a listener through the loop path.

Timing argument: the watcher thread's safety check runs every 100 ms
(``_detectors.SAFETY_POLL_S``), so a wake within 50 ms of its commit has an
even chance of coming from it. If nearly all of ROUNDS wakes (after random
pauses) come within 50 ms, a fast path delivered them.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import os
import random
import sqlite3
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import async_wait_until, spawn_child, wait_until, within

import honker
from honker.backends.sqlite.watch.detectors import LoopWaker
from honker.backends.sqlite.watch.watcher import UpdateEvents, UpdateWatcher

KERNEL = "kernel"
ROUNDS = 20
FAST_S = 0.05  # half the safety check's period
MIN_FAST = 18  # of ROUNDS: a loaded machine may be slow now and then
SLOW_S = 1.0  # no wake, fast path or not, takes this long
WAKE_S = 5.0  # a wake that takes longer than this was missed
QUIET_S = 0.3  # how long "no wake" is watched for
WATCHER_DIED = "update watcher died"

# argv: path channel count. On "go": ``count`` notifications [i, time.time()
# just before the commit], one transaction each, with a random 0-3 ms pause
# before each; then "done".
PAUSED_PRODUCER = textwrap.dedent(
    """
    import random, sys, time, honker
    path, channel, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = honker.open(path)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        time.sleep(random.uniform(0, 0.003))
        with db.transaction() as tx:
            tx.notify(channel, [i, time.time()])
    print("done", flush=True)
    db.close()
    """
)


def _commit(db: honker.Database) -> float:
    """One notification in its own transaction; when it was committed."""
    with db.transaction() as tx:
        tx.notify("ch", 1)
    return time.monotonic()


def _assert_fast(lags: list[float]) -> None:
    fast = sum(lag < FAST_S for lag in lags)
    shown = ", ".join(f"{lag * 1000:.1f}" for lag in lags)
    assert fast >= MIN_FAST, f"only {fast}/{len(lags)} wakes within {FAST_S}s (ms: {shown})"
    assert max(lags) < SLOW_S, f"a wake took {max(lags):.3f}s (ms: {shown})"


def _pause() -> float:
    return random.uniform(0.001, 0.005)


def _hub(db: honker.Database) -> UpdateWatcher:
    hub = db._backend._watcher
    assert hub is not None, "update_events() starts the watcher"
    return hub


async def _woken_at(sub: UpdateEvents) -> float:
    assert await sub.wait(None)
    return time.monotonic()


async def _timed_wakes(
    sub: UpdateEvents, other: honker.Database, while_waiting: Callable[[], None]
) -> list[float]:
    """ROUNDS times: wait on ``sub`` in this loop, check ``while_waiting()``,
    commit through ``other`` from a thread; the commit-to-wake lags."""
    lags = []
    for _ in range(ROUNDS):
        await asyncio.sleep(_pause())
        waiter = asyncio.ensure_future(_woken_at(sub))
        await asyncio.sleep(0)  # the waiter is in sub.wait() now
        assert not waiter.done(), "nothing was pending"
        while_waiting()
        committed_at = await asyncio.to_thread(_commit, other)
        lags.append(await within(waiter, WAKE_S) - committed_at)
    return lags


class _Thread(threading.Thread):
    """A thread that keeps its target's exception for :meth:`result`."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._error: BaseException | None = None
        self.value: Any = None

    def run(self) -> None:
        try:
            self.value = self._target_fn()
        except BaseException as exc:  # noqa: BLE001  re-raised by result()
            self._error = exc

    def result(self, timeout: float = 10.0) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} still running after {timeout}s"
        if self._error is not None:
            raise self._error
        return self.value


async def test_an_async_waiter_is_woken_by_its_own_loop(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """While a coroutine waits, its loop's waker is armed and in the selector
    and the watcher thread serves nobody; commits from another connection
    wake it fast (not via the 100 ms safety check)."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)
    loop = asyncio.get_running_loop()

    def loop_serves() -> None:
        assert hub._thread_served == 0
        assert loop in hub._wakers
        waker = hub._wakers[loop]
        assert waker.armed == 1
        assert waker.registered

    _assert_fast(await _timed_wakes(sub, other, loop_serves))
    assert list(hub._wakers) == [loop], "one waker per loop, reused for every wait"


async def test_a_woken_coroutine_resumes_at_once_in_its_own_task_and_context(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """The loop's reader resumes the waiting task itself (``Waiter.resume``),
    not one loop iteration later, and the task runs as asyncio would run it:
    it is the current task, in its own context; a later wait, a timed-out
    wait and a cancelled wait behave as always."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[tuple[bool, str, bool]] = []

    async def waiter() -> None:
        var.set("mine")
        for _ in range(5):
            assert await sub.wait(None)
            # Who runs us: the loop's reader callback, through Waiter.resume.
            names = {f.function for f in inspect.stack()}
            seen.append((asyncio.current_task() is task, var.get(), "resume" in names))

    task = asyncio.ensure_future(waiter())
    for i in range(5):
        await async_wait_until(lambda: sub._waiter is not None, WAKE_S)
        await asyncio.to_thread(_commit, other)
        await async_wait_until(lambda i=i: len(seen) == i + 1, WAKE_S)
    await within(task, WAKE_S)
    assert [s[:2] for s in seen] == [(True, "mine")] * 5
    # (The watcher thread's 100 ms safety check can win a race now and then:
    # its tick wakes the task the usual way.)
    assert sum(s[2] for s in seen) >= 4, seen
    assert var.get() == "unset", "the task's context, not the loop's"
    assert not await sub.wait(0.01), "a timed-out wait"
    cancelled = asyncio.ensure_future(sub.wait(None))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.to_thread(_commit, other)
    assert await within(sub.wait(None), WAKE_S), "the tick is kept for the next wait"


async def test_the_waker_leaves_the_selector_between_waits(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """Once the wait returned (woken or timed out) and nobody waited again for
    UNWATCH_AFTER_S, the waker is disarmed, its descriptor is no longer in the
    loop's selector and its inotify watch is gone (a watch costs every writer
    of the directory kernel work on each write)."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)
    loop = asyncio.get_running_loop()
    selector_map = loop._selector.get_map()  # type: ignore[attr-defined]

    waiter = asyncio.ensure_future(sub.wait(None))
    await asyncio.sleep(0)
    waker = hub._wakers[loop]
    fd = waker._events.fd
    assert waker.registered and waker.armed == 1
    assert fd in selector_map
    await asyncio.to_thread(_commit, other)
    assert await within(waiter, WAKE_S)
    assert waker._events.watching, "kept for a wait that comes soon"
    await async_wait_until(lambda: not waker.registered, 5)
    assert (waker.registered, waker.armed, waker._events.watching) == (False, 0, False)
    assert fd not in selector_map

    assert not await sub.wait(0.01)  # a timed-out wait cleans up too
    await async_wait_until(lambda: not waker.registered, 5)
    assert (waker.registered, waker.armed, waker._events.watching) == (False, 0, False)
    assert fd not in selector_map
    assert not waker.closed, "kept for the next wait while the Database is open"


def test_wait_sync_in_a_plain_thread_is_served_by_the_watcher_thread(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """A thread blocked in wait_sync counts in ``_thread_served`` (and no
    waker exists); the watcher thread wakes it fast; the count returns to 0."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)
    started = 0  # the round whose wait_sync has begun
    served: list[int] = []

    def commit_each_round() -> list[float]:
        committed_at = []
        for k in range(1, ROUNDS + 1):
            wait_until(lambda k=k: started == k and hub._thread_served == 1, timeout=WAKE_S)
            time.sleep(_pause())
            served.append(hub._thread_served)
            committed_at.append(_commit(other))
        return committed_at

    committer = _Thread(commit_each_round, "test-committer")
    committer.start()
    woke_at = []
    try:
        for k in range(1, ROUNDS + 1):
            started = k
            assert sub.wait_sync(WAKE_S), f"round {k}: no wake"
            woke_at.append(time.monotonic())
    finally:
        committed_at = committer.result(WAKE_S * 2)
    assert served == [1] * ROUNDS, "the waiter counted as thread-served while it waited"
    assert hub._thread_served == 0
    assert hub._wakers == {}, "no loop, no waker"
    _assert_fast([w - c for w, c in zip(woke_at, committed_at, strict=True)])


class _NoReaderLoop(asyncio.SelectorEventLoop):
    """An event loop whose public ``add_reader`` is not implemented (as on
    Windows' proactor loop). Its self-pipe uses the private ``_add_reader``,
    so ``call_soon_threadsafe`` still works."""

    def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:
        raise NotImplementedError("no add_reader in this loop")


def test_a_loop_without_add_reader_is_served_by_the_watcher_thread(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """A coroutine in a loop that cannot watch a descriptor counts in
    ``_thread_served`` while it waits, and the thread wakes it fast."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)

    def thread_serves() -> None:
        assert hub._thread_served == 1
        assert not any(w.registered for w in hub._wakers.values())

    loop = _NoReaderLoop()
    try:
        lags = loop.run_until_complete(_timed_wakes(sub, other, thread_serves))
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    assert hub._thread_served == 0
    _assert_fast(lags)


async def test_a_commit_before_the_first_wait_wakes_it_at_once(
    open_db: Callable[..., honker.Database], tmp_path: Path
) -> None:
    """A commit between ``update_events()`` and the first wait in a loop has no
    inotify event left for the loop's new waker to see; the hub's check on
    creating the waker delivers it, long before the thread's safety check
    (due about 100 ms after the watcher started)."""
    fresh = 10
    lags = []
    for i in range(fresh):
        path = str(tmp_path / f"fresh{i}.db")
        db = open_db(path, watcher_backend=KERNEL)
        other = open_db(path)
        sub = db.update_events()
        subscribed_at = time.monotonic()
        _commit(other)
        assert await within(sub.wait(None), WAKE_S)
        lags.append(time.monotonic() - subscribed_at)
        db.close()
        other.close()
    fast = sum(lag < FAST_S for lag in lags)
    shown = ", ".join(f"{lag * 1000:.1f}" for lag in lags)
    # Without the check every one of these takes about 100 ms.
    assert fast >= fresh - 2, f"only {fast}/{fresh} first waits within {FAST_S}s (ms: {shown})"


def test_two_loops_in_two_threads_each_have_their_own_waker(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """Two loops, each with a coroutine waiting: each loop has its own armed,
    registered waker, the thread serves nobody, and one commit wakes both."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    subs = [db.update_events(), db.update_events()]
    hub = _hub(db)
    loops: list[asyncio.AbstractEventLoop | None] = [None, None]
    waiting = [threading.Event(), threading.Event()]

    async def wait_in_loop(k: int) -> float:
        loops[k] = asyncio.get_running_loop()
        waiter = asyncio.ensure_future(_woken_at(subs[k]))
        await asyncio.sleep(0)
        waiting[k].set()
        return await within(waiter, WAKE_S)

    threads = [
        _Thread(lambda k=k: asyncio.run(wait_in_loop(k)), f"test-loop-{k}") for k in range(2)
    ]
    for t in threads:
        t.start()
    try:
        for event in waiting:
            assert event.wait(WAKE_S)
        assert len(hub._wakers) == 2
        wakers = [hub._wakers[loop] for loop in loops]  # type: ignore[index]
        assert wakers[0] is not wakers[1]
        assert all(w.armed == 1 and w.registered for w in wakers)
        assert wakers[0]._events.fd != wakers[1]._events.fd
        assert hub._thread_served == 0
        committed_at = _commit(other)
    finally:
        woke_at = [t.result(WAKE_S * 2) for t in threads]
    assert all(w - committed_at < SLOW_S for w in woke_at), woke_at


@pytest.mark.parametrize("closer", ["thread", "loop"])
async def test_closing_the_database_while_a_coroutine_waits_closes_its_waker(
    open_db: Callable[..., honker.Database], db_path: str, closer: str
) -> None:
    """``db.close()`` from another thread, or from the waiter's own loop (in
    another task): the waiting coroutine raises the watcher-died error, and
    its loop then closes the waker (no descriptor leaks; the autouse fixture
    checks that too)."""
    db = open_db(db_path, watcher_backend=KERNEL)
    sub = db.update_events()
    hub = _hub(db)
    loop = asyncio.get_running_loop()
    waiter = asyncio.ensure_future(sub.wait(None))
    await asyncio.sleep(0)
    wakers = list(hub._wakers.values())
    assert [w.loop for w in wakers] == [loop]
    assert wakers[0].registered and wakers[0].armed == 1
    if closer == "thread":
        await asyncio.to_thread(db.close)
    else:
        db.close()
    with pytest.raises(RuntimeError, match=WATCHER_DIED):
        await within(waiter, WAKE_S)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await async_wait_until(lambda: all(w.closed for w in wakers), timeout=2)
    assert not any(w.registered for w in wakers)
    assert hub._wakers == {}
    with pytest.raises(RuntimeError, match=WATCHER_DIED):
        await sub.wait(0.01)


def test_closing_the_database_after_its_loop_is_gone_closes_the_waker(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """A loop ran in a thread (``asyncio.run``), waited, was woken and
    finished; closing the Database afterwards closes that loop's waker."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)
    waiting = threading.Event()

    async def wait_once() -> None:
        waiter = asyncio.ensure_future(sub.wait(None))
        await asyncio.sleep(0)
        waiting.set()
        assert await within(waiter, WAKE_S)

    runner = _Thread(lambda: asyncio.run(wait_once()), "test-loop")
    runner.start()
    assert waiting.wait(WAKE_S)
    _commit(other)
    runner.result()
    wakers = list(hub._wakers.values())
    assert len(wakers) == 1 and wakers[0].loop.is_closed()
    assert not wakers[0].closed, "nothing closes it before the Database"
    db.close()
    assert wakers[0].closed
    assert hub._wakers == {}


def test_a_coroutine_finalised_after_its_loop_closed_leaves_nothing_behind(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """A loop closed while a coroutine still waited (its task abandoned, never
    cancelled): when the subscription and the task are dropped, finalising
    the coroutine disarms the waker without touching the closed loop (no
    exception from the finaliser, which pytest would report), and closing the
    Database closes the waker."""
    db = open_db(db_path, watcher_backend=KERNEL)
    held: list[Any] = [db.update_events()]  # the subscription, then its task
    hub = _hub(db)
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # "Task was destroyed ..."

    async def start_waiting(sub: UpdateEvents) -> None:
        held.append(asyncio.ensure_future(sub.wait(None)))
        await asyncio.sleep(0)

    try:
        loop.run_until_complete(start_waiting(held[0]))
        waker = hub._wakers[loop]
        assert waker.registered and waker.armed == 1
    finally:
        loop.close()
    held.clear()
    gc.collect()
    assert (waker.registered, waker.armed) == (False, 0)
    assert not waker.closed
    db.close()
    assert waker.closed


async def test_one_waker_at_a_time_for_a_database_that_outlives_its_loops(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """``asyncio.run()`` after ``asyncio.run()`` with one Database: the waker
    of a closed loop is dropped (and closed) when the next loop gets one, so
    inotify instances do not pile up."""
    db = open_db(db_path, watcher_backend=KERNEL)
    sub = db.update_events()
    hub = _hub(db)
    seen: list[LoopWaker] = []

    def run_loops() -> None:
        for _ in range(5):
            assert not asyncio.run(sub.wait(0.001))
            assert len(hub._wakers) == 1
            seen.extend(hub._wakers.values())

    await asyncio.to_thread(run_loops)  # asyncio.run() needs a thread without a loop
    assert len({id(w) for w in seen}) == 5, "one waker per loop"
    assert all(w.closed for w in seen[:-1])
    assert not seen[-1].closed, "the last loop's waker waits for the next loop or close()"


async def test_rollbacks_do_not_wake_an_async_waiter(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """Rollbacks (honker transactions that raise, and bare ones big enough to
    write pages into -wal) make kernel events the waker confirms and ignores;
    a commit afterwards still wakes the same wait."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    with other.transaction() as tx:
        tx.execute("CREATE TABLE junk (b BLOB)")
    sub = db.update_events()
    hub = _hub(db)
    loop = asyncio.get_running_loop()

    def roll_back() -> int:
        for i in range(10):
            with pytest.raises(KeyError), other.transaction() as tx:
                tx.notify("ch", i)
                tx.execute("INSERT INTO junk VALUES (zeroblob(100))")
                raise KeyError(i)
        wal = db_path + "-wal"
        conn = sqlite3.connect(db_path, isolation_level=None)
        spilled = 0
        try:
            conn.execute("PRAGMA cache_size = 10")  # a small cache spills to -wal
            for _ in range(3):
                before = os.path.getsize(wal)
                conn.execute("BEGIN IMMEDIATE")
                for _ in range(300):
                    conn.execute("INSERT INTO junk VALUES (zeroblob(4000))")
                spilled += os.path.getsize(wal) > before
                conn.execute("ROLLBACK")
        finally:
            conn.close()
        return spilled

    waiter = asyncio.ensure_future(sub.wait(None))
    await asyncio.sleep(0)
    assert hub._wakers[loop].registered
    spilled = await asyncio.to_thread(roll_back)
    assert spilled, "no rollback wrote pages into -wal; the test lost its edge"
    done, _ = await asyncio.wait({waiter}, timeout=QUIET_S)
    assert not done, "a rollback woke the waiter"
    assert hub._wakers[loop].registered
    await asyncio.to_thread(_commit, other)
    assert await within(waiter, WAKE_S)


async def test_a_child_process_commits_reach_a_listener_through_the_loop(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """200 notifications from a child process, with random pauses, reach a
    listener without a fallback poll, complete and in order, on the default
    backend, nearly all of them within FAST_S of their commit; the watcher
    thread serves nobody all along (the loop did it)."""
    count = 200
    db = open_db(db_path)
    listener = db.listen("ch", fallback_poll_s=None)
    hub = _hub(db)
    assert hub.backend == KERNEL, "the default backend on Linux"
    producer = spawn_child(PAUSED_PRODUCER, db_path, "ch", count)
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.0005):
            samples.append(hub._thread_served)

    sampler = _Thread(sample, "test-sampler")
    sampler.start()
    got: list[int] = []
    lags: list[float] = []

    async def collect() -> None:
        async for note in listener:
            seq, sent = note.payload
            lags.append(time.time() - sent)
            got.append(seq)
            if len(got) == count:
                return

    try:
        consuming = asyncio.ensure_future(collect())
        await asyncio.sleep(0)  # the listener waits
        assert hub._wakers[asyncio.get_running_loop()].registered
        producer.send("go")
        await within(consuming, 10)
        producer.expect("done")
        producer.wait()
    finally:
        stop.set()
        sampler.result()
        listener.close()
    assert got == list(range(count))
    assert len(samples) > 100, "the sampler ran through the whole exchange"
    assert set(samples) == {0}, "the watcher thread served a waiter"
    # The safety check alone would leave about half of them later than FAST_S.
    fast = sum(lag < FAST_S for lag in lags)
    assert fast >= count * 0.8, f"only {fast}/{count} notifications within {FAST_S}s"


@pytest.mark.parametrize("backend", ["polling", "shm"])
async def test_other_backends_use_no_waker(
    open_db: Callable[..., honker.Database], db_path: str, backend: str
) -> None:
    """Polling backends poll for everyone: no waker, nobody thread-served."""
    db = open_db(db_path, watcher_backend=backend)
    other = open_db(db_path)
    sub = db.update_events()
    hub = _hub(db)
    waiter = asyncio.ensure_future(sub.wait(None))
    await asyncio.sleep(0)
    assert hub._wakers == {} and hub._thread_served == 0
    await asyncio.to_thread(_commit, other)
    assert await within(waiter, WAKE_S)
    assert hub._wakers == {}


async def test_a_busy_consumer_drops_the_watch_and_misses_no_commit(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """A claim iterator that finds a job without waiting drops its loop's
    inotify watch at once (the loop may not run again for a whole backlog);
    a commit made while nobody watched still wakes the next wait."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    q, theirs = db.queue("q"), other.queue("q")
    jobs = q.claim("w", idle_poll_s=None)
    hub = _hub(db)
    loop = asyncio.get_running_loop()
    waiter = asyncio.create_task(anext(jobs))  # a Task starts it now
    await asyncio.sleep(0)  # waits: the watch is on
    waker = hub._wakers[loop]
    assert waker.registered and waker._events.watching

    def enqueue_two() -> None:
        with other.transaction() as tx:
            theirs.enqueue(1, tx=tx)
            theirs.enqueue(2, tx=tx)

    await asyncio.to_thread(enqueue_two)
    assert (await within(waiter, WAKE_S)).payload == 1
    assert (await within(anext(jobs))).payload == 2  # found without waiting: busy
    assert (waker.registered, waker._events.watching) == (False, False)
    await asyncio.to_thread(theirs.enqueue, 3)  # nobody watches this commit's writes
    assert (await within(anext(jobs), WAKE_S)).payload == 3
    jobs.close()


async def test_a_wake_up_for_commits_a_read_already_saw_is_dropped(
    open_db: Callable[..., honker.Database], db_path: str
) -> None:
    """After ``mark()`` (a read is about to begin), a wake-up for commits made before
    it is dropped for that subscriber only; a later commit still wakes it."""
    db = open_db(db_path, watcher_backend=KERNEL)
    other = open_db(db_path)
    sub, bystander = db.update_events(), db.update_events()
    await asyncio.to_thread(_commit, other)  # before the read: the read will see it
    sub.mark()
    assert not await sub.wait(0.2), "woken for a commit its read saw"
    assert await within(bystander.wait(None), WAKE_S), "other subscribers still get it"
    await asyncio.to_thread(_commit, other)
    assert await within(sub.wait(None), WAKE_S)
