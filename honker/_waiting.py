"""The one "read; if nothing, wait for a change until a deadline" loop.

Every waiting iterator (claim, listen, subscribe, wait_result, the scheduler's
leader and standby loops) is a *step* (one short read or write that either
produces a value or says how long to wait) and this loop around it, so the
wake-up rules are written once:

- the caller subscribes to changes *before* its first step, so a commit
  between a step and the wait is not lost (the feed keeps a pending tick);
- the wait ends on a commit from any process, on the step's timeout, or on
  any of the extra ``events`` (an ``asyncio.Event`` such as a stop signal);
- a dead change feed (database closed, file replaced) raises from the wait.

Example::

    def step() -> Job | Wait:
        rows = claim()
        return Job(rows[0]) if rows else Wait(5.0)

    job = await until(changes, step)

A waiting iterator whose ``__anext__`` must be cheap under
``asyncio.wait_for`` returns :class:`Next` instead (the claim iterator).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

from .backends.base import Changes

T = TypeVar("T")


class Wait:
    """A step's answer "nothing yet": wait up to ``timeout_s`` seconds (None: no limit)."""

    __slots__ = ("timeout_s",)

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s


async def until(changes: Changes, step: Callable[[], T | Wait], *events: asyncio.Event | None) -> T:
    """Run ``step`` until it returns a value; between runs wait for a change."""
    changes.mark()  # ticks for commits this step will see are dropped
    result = step()
    if not isinstance(result, Wait):
        changes.busy()  # work without a wait: the backend may stop watching for us
        return result
    return await _until_after(changes, step, result, events)


async def _until_after(
    changes: Changes,
    step: Callable[[], T | Wait],
    result: Wait,
    events: tuple[asyncio.Event | None, ...] = (),
) -> T:
    """:func:`until` after a first step that answered ``result`` (a Wait)."""
    while True:
        if any(e is not None for e in events):
            await wait_any(changes, result.timeout_s, *events)
        else:
            await changes.wait(result.timeout_s)
        changes.mark()
        value = step()
        if not isinstance(value, Wait):
            return value
        result = value


async def wait_any(changes: Changes, timeout: float | None, *events: asyncio.Event | None) -> None:
    """Wait for a commit tick, ``timeout`` seconds, or any of ``events`` (set)."""
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(changes.wait(timeout))]
    waiters += [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    for w in done:
        if not w.cancelled() and w.exception() is not None:
            raise w.exception()  # type: ignore[misc]  # e.g. the watcher died


# The callback through which asyncio.wait_for (Python 3.11) learns that its
# future is done: see Next.add_done_callback. None where asyncio has no such
# function (3.12+ builds wait_for on asyncio.timeout and awaits the future).
_RELEASE_WAITER = getattr(asyncio.tasks, "_release_waiter", None)

_NEW, _INLINE, _FUTURE = 0, 1, 2


class Next(asyncio.Future[T]):
    """:func:`until` as an object that is both a coroutine and an asyncio Future:
    what the claim iterator's ``__anext__`` returns.

    Why: on Python 3.11 ``asyncio.wait_for(it.__anext__(), t)`` wraps a
    coroutine in a new Task and takes three event-loop iterations even when
    the value is ready; a Future it takes as is (``ensure_future`` returns a
    Future unchanged), and a ready one returns at once (docs/performance.md).

    Semantics:
    - nothing runs until it is used, as with a coroutine: awaited, driven by
      a Task (``asyncio.create_task``, ``asyncio.run``), or used as a Future:
      a done callback (``wait_for`` and ``gather`` add one) or ``done()``
      starts it at once. ``asyncio.ensure_future`` alone returns it
      unstarted, so a Future handed to ``asyncio.wait`` (which refuses it,
      as any coroutine) has claimed nothing;
    - awaited or driven by a Task: ``until`` runs in that task itself; a
      step's value is returned in the step that produced it, and a cancelled
      wait has run no step since it last waited, so nothing is lost;
    - used as a Future: the first step runs at once and, if it has a value,
      the Future is done with it; otherwise a Task waits and steps, and
      cancelling the Future cancels that Task between two steps;
    - a value that Task produced for a consumer cancelled before it received
      it (its task cancelled while awaiting this Future) goes to ``undo`` at
      once: the claim iterator releases the job instead of stranding it;
    - ``asyncio.wait`` refuses coroutines, this one too: give it
      ``asyncio.create_task(it.__anext__())``;
    - one consumer per object, as for a coroutine: a second task awaiting
      the same Future and cancelled after the value arrived undoes it, even
      if the first task got it (asyncio reads ``result()`` on every wake-up,
      so who received the value cannot be told).
    """

    __slots__ = ("_changes", "_step", "_undo", "_mode", "_driver", "_gen", "_release")

    def __init__(
        self, changes: Changes, step: Callable[[], T | Wait], undo: Callable[[T], None]
    ) -> None:
        super().__init__()
        self._changes = changes
        self._step = step
        self._undo = undo
        self._mode = _NEW
        self._driver: asyncio.Task[None] | None = None
        self._gen: Generator[Any, None, T] | None = None
        # asyncio.wait_for's callback (3.11), run by the driver as soon as
        # the value is set (_drive), not one loop iteration later.
        self._release: Callable[[Next[T]], object] | None = None

    # -- awaited, or driven by a Task as a coroutine ---------------------------
    def __await__(self) -> Generator[Any, None, T]:
        if self._mode != _NEW:
            return (yield from self._await_future())
        self._mode = _INLINE
        changes, step = self._changes, self._step
        try:
            changes.mark()  # ticks for commits this step will see are dropped
            first = step()
            if isinstance(first, Wait):
                value: T = yield from _until_after(changes, step, first).__await__()
            else:
                changes.busy()  # work without a wait: the backend may stop watching for us
                value = first
        except BaseException as exc:
            self._settle_error(exc)
            raise
        # (Future.done: this class's done() would start it; it has started.)
        if not asyncio.Future.done(self):  # a second awaiter of this object waits on the Future
            self.set_result(value)
        return value

    __iter__ = __await__

    def _await_future(self) -> Generator[Any, None, T]:
        if not self.done():
            self._asyncio_future_blocking = True
            try:
                yield self
            except BaseException:
                # The awaiting task was cancelled: if the value is already here
                # (set by the driver before the task resumed), nobody got it.
                if self.done() and not self.cancelled() and self.exception() is None:
                    self._undo(self.result())
                raise
        return self.result()

    def _settle_error(self, exc: BaseException) -> None:
        if self.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            asyncio.Future.cancel(self)
        else:
            self.set_exception(exc)
            self.exception()  # the awaiter raises it: never "exception was never retrieved"

    def send(self, value: None) -> Any:
        gen = self._gen
        if gen is None:
            gen = self._gen = self.__await__()
        return gen.send(value)

    def throw(
        self,
        typ: type[BaseException] | BaseException,
        val: BaseException | object = None,
        tb: TracebackType | None = None,
    ) -> Any:
        gen = self._gen
        if gen is None:  # thrown in before it ran (a task cancelled at once): nothing ran
            gen = self._gen = self.__await__()
        if val is None and tb is None:
            return gen.throw(typ)
        return gen.throw(typ, val, tb)  # type: ignore[arg-type]  # the legacy 3-argument form

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()

    # -- used as a Future --------------------------------------------------------
    def done(self) -> bool:
        # Asked as a Future (wait_for(x, 0) asks at once): it starts now.
        if self._mode == _NEW:
            self._start()
        return super().done()

    def add_done_callback(self, fn: Callable[[Next[T]], object], *, context: Any = None) -> None:
        if self._mode == _NEW:
            self._start()
        if (
            type(fn) is functools.partial
            and fn.func is _RELEASE_WAITER
            and _RELEASE_WAITER is not None
        ):
            # asyncio.wait_for (3.11): release its waiter as soon as the value
            # is here (now if it is ready, else in _drive), instead of one
            # loop iteration later (and one more to resume the caller).
            # _release_waiter only sets that private waiter's result.
            if self.done():
                fn(self)
                return
            self._release = fn
        super().add_done_callback(fn, context=context)

    def cancel(self, msg: Any | None = None) -> bool:
        if self._mode == _NEW:
            self._mode = _FUTURE  # cancelled before it ran: it never will
        driver = self._driver
        if driver is not None and not self.done():
            driver.cancel(msg)
        return super().cancel(msg)

    def _start(self) -> None:
        """The first step now; a Task waits for the rest."""
        self._mode = _FUTURE
        changes, step = self._changes, self._step
        try:
            changes.mark()
            first = step()
        except Exception as exc:  # noqa: BLE001  the Future's consumer raises it
            self.set_exception(exc)
            return
        if not isinstance(first, Wait):
            changes.busy()
            self.set_result(first)
            return
        self._driver = self.get_loop().create_task(self._drive(first))

    async def _drive(self, first: Wait) -> None:
        try:
            value = await _until_after(self._changes, self._step, first)
        except asyncio.CancelledError:
            if not self.done():  # cancelled by someone else (the loop shutting down)
                asyncio.Future.cancel(self)
            raise
        except Exception as exc:  # noqa: BLE001  the Future's consumer raises it
            if not self.done():
                self.set_exception(exc)
            return
        if self.done():  # not reached: cancel() stops this task before it steps
            self._undo(value)
            return
        release = self._release
        if release is not None and self.remove_done_callback(release):
            self.set_result(value)
            release(self)  # wait_for's waiter, at once (see add_done_callback)
        else:
            self.set_result(value)
