"""Shared test helpers: condition waits and child Python processes.

Import them as ``from helpers import wait_until, spawn_child`` (``tests/conftest.py``
puts this directory on ``sys.path``).

Rules these helpers exist to keep (STYLE.md): tests wait on conditions, never
on bare sleeps; cross-process tests use real child processes that announce
themselves with a ``ready`` line and are always reaped.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
READY = "ready"
_MODULE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.005, message: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises ``AssertionError`` (naming ``message`` or the predicate) after
    ``timeout`` seconds. The predicate is always evaluated once more at the
    deadline, so a slow machine never fails a condition that did come true.
    """
    deadline = time.monotonic() + timeout
    while not (found := _poll_once(predicate, deadline, timeout, message)):
        time.sleep(interval)
    return found[0]


async def async_wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.005, message: str = ""
) -> T:
    """:func:`wait_until` for coroutines: yields to the event loop between polls."""
    deadline = time.monotonic() + timeout
    while not (found := _poll_once(predicate, deadline, timeout, message)):
        await asyncio.sleep(interval)
    return found[0]


def _poll_once(
    predicate: Callable[[], T], deadline: float, timeout: float, message: str
) -> tuple[T] | None:
    """``(value,)`` if the predicate holds now; None to poll again; raises past the deadline."""
    value = predicate()
    if value:
        return (value,)
    if time.monotonic() >= deadline:
        what = message or getattr(predicate, "__name__", repr(predicate))
        raise AssertionError(f"condition not met within {timeout}s: {what}")
    return None


async def within(awaitable: Awaitable[T], timeout: float = 10.0) -> T:
    """Await ``awaitable`` but fail the test (not hang it) after ``timeout`` s."""
    return await asyncio.wait_for(awaitable, timeout)


# -- honker databases ---------------------------------------------------------


def db_now(db: Any) -> int:
    """SQLite's ``unixepoch()``: the clock every honker comparison uses."""
    (row,) = db.query("SELECT unixepoch() AS now")
    return int(row["now"])


def sql(db: Any, statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run one statement in its own write transaction (e.g. to move timestamps)."""
    with db.transaction() as tx:
        return tx.query(statement, list(params))  # type: ignore[no-any-return]


def call(db: Any, expr: str, *args: Any) -> Any:
    """``SELECT <expr>`` on the writer in its own transaction; the one value it returns.

    The way user code reaches honker's SQL functions: ``call(db, "honker_ack(?, ?)", 1, "w")``.
    """
    with db.transaction() as tx:
        (row,) = tx.query(f"SELECT {expr} AS r", list(args))
    return row["r"]


def serde(obj: Any) -> str:
    """JSON text as honker's SQL functions emit it (serde_json): sorted keys,
    compact, raw UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def in_one_second(db: Any, attempt: Callable[[int], T], tries: int = 5) -> T:
    """Run ``attempt(now)`` until it starts and ends within one SQLite second.

    For assertions about exact second boundaries (``claim_expires_at ==
    now``): a run that straddles a second boundary proves nothing, whether it
    passed or failed, and is repeated; so ``attempt`` must set up its own
    fresh state each time (and clear what an earlier try left behind).
    """
    for _ in range(tries):
        start = db_now(db)
        try:
            result = attempt(start)
        except AssertionError:
            if db_now(db) == start:
                raise
            continue
        if db_now(db) == start:
            return result
    raise AssertionError(f"could not run within one second in {tries} tries")


class Child:
    """A child Python process started by :func:`spawn_child`.

    Its stdout is read line by line on a background thread, so
    :meth:`readline` can wait with a timeout. Use it as a context manager, or
    rely on the autouse fixture in conftest that reaps every child a test left
    running.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            cwd=str(REPO),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._out = threading.Thread(
            target=self._pump_stdout, name="test-child-stdout", daemon=True
        )
        self._err = threading.Thread(
            target=self._pump_stderr, name="test-child-stderr", daemon=True
        )
        self._out.start()
        self._err.start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def readline(self, timeout: float = 10.0) -> str:
        """The next stdout line; fails the test on timeout or on exit."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"child printed nothing within {timeout}s; stderr:\n{self.stderr}"
            ) from None
        if line is None:
            self._lines.put(None)  # stay at EOF for later readers
            self.proc.wait(timeout=timeout)
            self._err.join(timeout)
            raise AssertionError(
                f"child exited with {self.proc.returncode} before printing; stderr:\n{self.stderr}"
            )
        return line

    def expect(self, expected: str, timeout: float = 10.0) -> None:
        """Read lines until one equals ``expected``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line == expected:
                return

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the child to exit; fails the test if it exits non-zero."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"child still running after {timeout}s") from None
        self._close_pipes()
        if rc != 0:
            raise AssertionError(f"child exited with {rc}; stderr:\n{self.stderr}")
        return rc

    def kill(self) -> None:
        """Kill (if running), reap, and release the pipes. Idempotent."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self._out.join(5)
        self._err.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        _LIVE.discard(self)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


_LIVE: set[Child] = set()


def spawn_child(
    code_or_module: str,
    *args: Any,
    ready: str | None = READY,
    timeout: float = 20.0,
    prefix: Sequence[str] = (),
) -> Child:
    """Start ``sys.executable -c CODE`` (or ``-m MODULE``) with ``args``.

    ``PYTHONPATH`` points at the repository, so the child imports this
    checkout's ``honker``. A dotted name is run as a module; anything else is
    code (``sys.argv[1:]`` holds ``args``). Unless ``ready`` is None, waits
    for the child to print that line, so the test knows it is set up. The
    child is killed and reaped when the test ends, whatever happens.
    ``prefix`` is a command that execs the interpreter in place (e.g.
    ``ip netns exec NAME``), so the child's pid is still Python's.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    if _MODULE_NAME.match(code_or_module):
        argv = [sys.executable, "-m", code_or_module]
    else:
        argv = [sys.executable, "-c", code_or_module]
    argv = [*prefix, *argv, *(str(a) for a in args)]
    child = Child(argv, env)
    _LIVE.add(child)
    if ready is not None:
        try:
            child.expect(ready, timeout)
        except BaseException:
            child.kill()
            raise
    return child


def reap_children() -> int:
    """Kill every child still running; returns how many there were."""
    children = list(_LIVE)
    for child in children:
        child.kill()
    return len(children)


class Lines:
    """Every line a child printed so far, read without blocking."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.lines: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.lines.append(self.child.readline(timeout=0.001))
            except (AssertionError, subprocess.TimeoutExpired):  # nothing new, or exited
                return self.lines

    def starting(self, prefix: str) -> list[str]:
        return [ln for ln in self.poll() if ln.startswith(prefix)]


# A Scheduler process for the cross-process scheduler tests. argv: path,
# lock_name, lock_ttl (s), heartbeat_interval (s), standby ("1" or "0").
# Prints "ready", then "leading" when it becomes leader and "fired <name>
# <fire_at>" for each fire (from the library's log records); a line on stdin
# stops it cleanly ("stopped").
SCHEDULER_CHILD = """
import asyncio, logging, sys, threading
import honker

path, lock_name, lock_ttl = sys.argv[1], sys.argv[2], int(sys.argv[3])
heartbeat, standby = float(sys.argv[4]), sys.argv[5] == "1"

class Announce(logging.Handler):
    def emit(self, record):
        if record.msg.startswith("fired"):
            print(f"fired {record.args[0]} {record.args[1]}", flush=True)
        elif "leading" in record.msg:
            print("leading", flush=True)

log = logging.getLogger("honker.scheduler")
log.setLevel(logging.DEBUG)
log.addHandler(Announce())

async def main():
    db = honker.open(path)
    sched = honker.Scheduler(db, lock_name)
    sched.lock_ttl = lock_ttl
    sched.heartbeat_interval = heartbeat
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(
        target=lambda: (sys.stdin.readline(), loop.call_soon_threadsafe(stop.set)), daemon=True
    ).start()
    print("ready", flush=True)
    await sched.run(stop, standby=standby)
    db.close()
    print("stopped", flush=True)

asyncio.run(main())
"""


def open_fds() -> set[str]:
    """This process's open file descriptors as ``"<fd> -> <target>"`` strings.

    The descriptor used to list /proc/self/fd is closed by the time its link
    is read, so it never shows up; a descriptor reused for another file reads
    as a new entry.
    """
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    return out


def honker_threads() -> set[threading.Thread]:
    """Live threads whose name starts with ``honker`` (the library's threads)."""
    return {t for t in threading.enumerate() if t.name.startswith("honker") and t.is_alive()}
