"""The writer slot (honker/backends/sqlite/slot.py) is a mutex: one holder at
a time across threads, waits end on release or timeout, misuse is refused."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import wait_until

from honker.backends.sqlite.slot import WriterSlot


def test_one_holder_at_a_time_across_threads() -> None:
    slot = WriterSlot()
    inside = 0
    most = 0
    counter = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most, counter
        for _ in range(3000):
            assert slot.acquire()
            with guard:
                inside += 1
                most = max(most, inside)
            counter += 1  # unprotected read-modify-write: safe only under the slot
            with guard:
                inside -= 1
            slot.release()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert counter == 8 * 3000
    assert not slot.locked()


def test_non_blocking_and_timeout() -> None:
    slot = WriterSlot()
    assert slot.acquire(blocking=False)
    assert slot.locked()
    assert not slot.acquire(blocking=False)
    t0 = time.monotonic()
    assert not slot.acquire(True, 0.05)
    assert time.monotonic() - t0 >= 0.05
    assert not slot.acquire(True, 0)
    slot.release()
    assert slot.acquire(True, 0)
    slot.release()


def test_a_waiter_wakes_on_release() -> None:
    slot = WriterSlot()
    assert slot.acquire()
    got: list[float] = []

    def waiter() -> None:
        assert slot.acquire(True, 10)
        got.append(time.monotonic())
        slot.release()

    t = threading.Thread(target=waiter)
    t.start()
    wait_until(lambda: slot._waiting == 1, message="the waiter is in its wait")
    released = time.monotonic()
    slot.release()
    t.join(5)
    assert got and got[0] - released < 1.0  # woken by the release, not by its timeout


def test_release_without_holding_is_refused() -> None:
    slot = WriterSlot()
    with pytest.raises(RuntimeError, match="unheld"):
        slot.release()
    assert slot.acquire(blocking=False)
    slot.release()
