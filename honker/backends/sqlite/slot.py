"""The writer slot: the mutex around a Database's one writer connection.

Every write takes it, so its uncontended path is what an enqueue or a claim
pays, and on a process waking from idle a ``threading.Lock`` is dear there:
its first acquire after a pause ran 17 µs against 5 µs for this slot's, on a
small VM (docs/performance.md, wake path). The slot is free when its token
list holds the token: taking it is ``list.pop()``, giving it back
``list.append()``, each atomic under the GIL. Only a thread that finds the
slot taken uses a lock: it waits on a condition that :meth:`release`
notifies when someone waits.

Semantics (``threading.Lock``'s, for what the backend uses):
- ``acquire(blocking=True, timeout=-1)``: True once held, False if
  ``blocking`` is False and the slot is taken, or after ``timeout`` seconds;
- ``release()`` by the holder, once per acquire (not reentrant);
- ``locked()``: held by someone now.
"""

from __future__ import annotations

import threading
from time import monotonic


class WriterSlot:
    """A non-reentrant mutex with a lock-free uncontended path (see the module docstring)."""

    __slots__ = ("_token", "_cond", "_waiting")

    def __init__(self) -> None:
        self._token = [True]  # holds the token while the slot is free
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0  # threads in _wait (read without the lock by release)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        try:
            self._token.pop()
            return True
        except IndexError:
            if not blocking:
                return False
        return self._wait(timeout)

    def _wait(self, timeout: float) -> bool:
        deadline = None if timeout < 0 else monotonic() + timeout
        with self._cond:
            # Counted before the retry below: a release() that appends the
            # token after that retry failed sees the count and notifies,
            # and its notify waits for this thread to be in wait().
            self._waiting += 1
            try:
                while True:
                    try:
                        self._token.pop()
                        return True
                    except IndexError:
                        pass
                    if deadline is None:
                        self._cond.wait()
                        continue
                    remaining = deadline - monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._waiting -= 1

    def release(self) -> None:
        if self._token:
            raise RuntimeError("release of an unheld writer slot")
        self._token.append(True)
        if self._waiting:
            with self._cond:
                self._cond.notify()

    def locked(self) -> bool:
        return not self._token
