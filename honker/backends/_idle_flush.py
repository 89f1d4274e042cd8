"""The throughput history's idle flush, shared by the backends.

Both backends count finished jobs in memory and write the counts inside a
later write transaction, at most once a second (``sqlite/engine/history.py``,
``postgres/history.py``). When no write comes, :class:`IdleFlush` runs one
empty write transaction about a second after counts were left waiting, so
they land within a second either way.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from .._errors import HonkerError

log = logging.getLogger("honker.history")


class IdleFlush:
    """One pending timer at most; ``flush`` is the backend's empty write.

    Semantics: ``arm()`` starts the timer unless one is pending or the
    backend is closed; the timer calls ``flush()`` only while ``waiting()``
    says counts are left, never at interpreter exit (a daemon thread can be
    frozen there at any point); a failed flush is logged, the counts stay for
    the next commit. ``cancel()`` stops a pending timer (at close).
    """

    def __init__(
        self,
        every_s: float,
        flush: Callable[[], None],
        waiting: Callable[[], bool],
        closed: Callable[[], bool],
    ) -> None:
        self._every_s = every_s
        self._flush = flush
        self._waiting = waiting
        self._closed = closed
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is None and not self._closed():
            timer = threading.Timer(self._every_s, self._run)
            timer.name = "honker-history"
            timer.daemon = True
            self._timer = timer
            timer.start()

    def cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _run(self) -> None:
        self._timer = None
        if self._closed() or not self._waiting() or sys.is_finalizing():
            return
        try:
            self._flush()
        except HonkerError as exc:  # e.g. closed meanwhile, busy, or the server is gone
            log.warning("throughput history flush failed: %s", exc)
