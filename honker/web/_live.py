"""Live updates: the database's change feed, shared by every open page.

One subscription to the database's update watcher (``Database.update_events``,
the same feed that wakes workers) per app, started by the first request on
the server's event loop. Each commit, from any process, bumps ``version``;
each page's server-sent-event stream waits for the version to move and tells
the browser, which re-fetches the part of the page that shows data. No
polling loop in the browser and none here.

Semantics:
- an event reaches every stream within one watcher tick of the commit; a
  stream sends at most one event per ``THROTTLE_S`` (commits in between are
  coalesced: the page re-reads everything anyway);
- :meth:`Live.publish` also sends an event without a commit: the app calls
  it when a read it served stale has been redone in the background, so the
  pages fetch the new one;
- a comment line every ``KEEPALIVE_S`` keeps proxies from closing an idle
  stream; the browser reconnects by itself after a network error;
- if the watcher dies (file replaced or deleted) the streams end and the
  pages show "disconnected".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._database import Database
    from ..backends.base import Changes

THROTTLE_S = 0.25
KEEPALIVE_S = 15.0


class Live:
    """The app's change counter, fed by the watcher (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.version = 0  # commits seen (and actions made)
        self.published = 0  # background reads finished (see publish)
        self.dead = False
        self._moved: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._changes: Changes | None = None

    def bump(self) -> None:
        """Count a change made by this app itself (an action's commit)."""
        self.version += 1
        self._wake()

    def publish(self) -> None:
        """Tell every page that fresher data is ready (no commit implied)."""
        self.published += 1
        self._wake()

    def _wake(self) -> None:
        if self._moved is not None:
            self._moved.set()
            self._moved = asyncio.Event()

    @property
    def state(self) -> tuple[int, int]:
        return self.version, self.published

    def start(self) -> None:
        """Subscribe, once, on the running loop."""
        if self._task is not None and not self._task.done():
            return
        self._moved = asyncio.Event()
        self._changes = self._db.update_events()
        self._task = asyncio.get_running_loop().create_task(self._run(self._changes))

    async def _run(self, changes: Changes) -> None:
        try:
            while True:
                await changes.wait(None)
                self.bump()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  the watcher died: end every stream
            self.dead = True
            self.bump()
        finally:
            changes.close()

    async def wait_past(self, state: tuple[int, int], timeout: float) -> tuple[int, int]:
        """:attr:`state` once it differs from ``state``, or after ``timeout``."""
        if self.state != state or self._moved is None:
            return self.state
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._moved.wait(), timeout)
        return self.state

    async def stream(self) -> AsyncIterator[str]:
        """The ``text/event-stream`` body for one page."""
        self.start()
        state = self.state
        yield f"retry: 1000\nevent: hello\ndata: {state[0]}\n\n"
        while not self.dead:
            moved = await self.wait_past(state, KEEPALIVE_S)
            if moved == state:
                yield ": keep-alive\n\n"
                continue
            state = moved
            yield f"event: change\ndata: {state[0]}\n\n"
            await asyncio.sleep(THROTTLE_S)  # coalesce a burst of commits
        yield "event: dead\ndata: the database's watcher stopped\n\n"

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
