"""The transactional outbox (docs/spec/python-api.md §13).

An outbox is a queue named ``_outbox:<name>`` plus a delivery callable: the
application enqueues a message in the same transaction as its own writes, and
a worker delivers it afterwards, retrying with exponential backoff. Delivery
is at least once: a crash between delivery and ack delivers again.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, ParameterError
from ._worker import _compute_delay, _retry_or_fail

if TYPE_CHECKING:
    from ._database import Database
    from ._queue import Queue

log = logging.getLogger("honker.outbox")

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BASE_BACKOFF_S = 5
DEFAULT_VISIBILITY_TIMEOUT_S = 60
QUEUE_PREFIX = "_outbox:"


def open_outbox(
    db: Database,
    name: str,
    delivery: Callable[[Any], Any],
    max_attempts: Any,
    base_backoff_s: Any,
    visibility_timeout_s: Any,
) -> Outbox:
    """``db.outbox(...)``: the memoised outbox, with honker's conflict rules."""
    if not callable(delivery):
        raise ParameterError("delivery must be callable")
    options = (int(max_attempts), int(base_backoff_s), int(visibility_timeout_s))
    cached = db._outboxes.get(name)
    if cached is not None:
        # Delivery is compared by identity: two equal-looking lambdas differ.
        if cached.delivery is delivery and cached._options == options:
            return cached
        raise ConfigError(
            f"outbox {name!r} already opened with different options or a different "
            "delivery callable"
        )
    outbox = Outbox(db, name, delivery, *options)
    db._outboxes[name] = outbox
    return outbox


class Outbox:
    """Side effects (HTTP calls, e-mails) enqueued atomically with your writes.

    Semantics:
    - messages live in the queue ``_outbox:<name>`` (an ordinary queue);
    - :meth:`run_worker` delivers each one; an exception retries it after
      ``base_backoff_s * 2**(attempts-1)`` seconds, and the attempt that
      reaches ``max_attempts`` moves it to the dead table with the error and
      traceback;
    - a message whose worker died is delivered again after
      ``visibility_timeout_s``.

    Example::

        def post_webhook(payload):
            httpx.post(payload["url"], json=payload["body"]).raise_for_status()

        hooks = db.outbox("webhooks", post_webhook)
        with db.transaction() as tx:
            tx.execute("UPDATE orders SET paid = 1 WHERE id = ?", [7])
            hooks.enqueue({"url": url, "body": {"order": 7}}, tx=tx)

        asyncio.create_task(hooks.run_worker("outbox-1"))
    """

    def __init__(
        self,
        db: Database,
        name: str,
        delivery: Callable[[Any], Any],
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        base_backoff_s: int = DEFAULT_BASE_BACKOFF_S,
        visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S,
    ) -> None:
        self.db = db
        self.name = name
        self.delivery = delivery
        self.max_attempts = int(max_attempts)
        self.base_backoff_s = int(base_backoff_s)
        self.visibility_timeout_s = int(visibility_timeout_s)
        self._queue: Queue = db.queue(
            QUEUE_PREFIX + name,
            visibility_timeout_s=self.visibility_timeout_s,
            max_attempts=self.max_attempts,
        )

    @property
    def _options(self) -> tuple[int, int, int]:
        return (self.max_attempts, self.base_backoff_s, self.visibility_timeout_s)

    @property
    def queue(self) -> Queue:
        """The underlying queue (``_outbox:<name>``)."""
        return self._queue

    def enqueue(
        self,
        payload: Any,
        tx: Any = None,
        priority: int = 0,
        delay: float | None = None,
        run_at: float | None = None,
        expires: float | None = None,
    ) -> None:
        """Queue a message for delivery; returns None.

        Semantics: as :meth:`honker.Queue.enqueue` (``tx`` joins the caller's
        transaction, so the message exists only if the transaction commits),
        with the outbox's ``max_attempts``. The keyword order differs from
        ``Queue.enqueue``, as in honker.
        """
        self._queue.enqueue(
            payload, tx=tx, run_at=run_at, delay=delay, priority=priority, expires=expires
        )

    def _backoff_s(self, attempts: int) -> int:
        """Seconds to wait before the next delivery after failed attempt ``attempts``."""
        return _compute_delay(self.base_backoff_s, 2, attempts)

    async def run_worker(self, worker_id: str) -> None:
        """Deliver messages forever; stop it by cancelling the task.

        Semantics:
        - claims one message at a time and waits on commit ticks when idle;
        - a coroutine-function ``delivery`` is awaited; a plain one is called
          on the event-loop thread (it blocks the loop while it runs);
        - success acks; any ``Exception`` retries with backoff (see the class
          docstring); ``CancelledError`` propagates and leaves the in-flight
          message processing until its visibility timeout.
        """
        claims = self._queue.claim(worker_id)
        try:
            async for job in claims:
                try:
                    if inspect.iscoroutinefunction(self.delivery):
                        await self.delivery(job.payload)
                    else:
                        self.delivery(job.payload)
                    job.ack()
                except Exception as exc:  # noqa: BLE001  any delivery failure is retried
                    delay = self._backoff_s(job.attempts)
                    # A retry is routine; only the last attempt is worth a warning.
                    final = job.attempts >= self.max_attempts
                    log.log(
                        logging.WARNING if final else logging.INFO,
                        "outbox %r: delivery of job %s failed (attempt %s/%s)%s: %s",
                        self.name,
                        job.id,
                        job.attempts,
                        self.max_attempts,
                        "; dead-lettered" if final else f"; retry in {delay}s",
                        exc,
                    )
                    _retry_or_fail(job, f"{exc}\n{traceback.format_exc()}", delay, None)
        finally:
            claims.close()

    def __repr__(self) -> str:
        return f"Outbox(name={self.name!r})"
