"""Compatibility module: honker's ``honker._honker`` names, for code that imports them."""

from __future__ import annotations

from typing import Any

from ._database import Database, Transaction, _TxDepthGuard
from ._lock import _Lock
from ._notify import Listener, Notification
from ._queue import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_VISIBILITY_TIMEOUT_S,
    Job,
    Queue,
    _WorkerQueueIter,
)

DEFAULT_OUTBOX_MAX_ATTEMPTS = 5
DEFAULT_OUTBOX_BASE_BACKOFF_S = 5
DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S = 60

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_OUTBOX_BASE_BACKOFF_S",
    "DEFAULT_OUTBOX_MAX_ATTEMPTS",
    "DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S",
    "DEFAULT_VISIBILITY_TIMEOUT_S",
    "Database",
    "Job",
    "Listener",
    "Notification",
    "Queue",
    "Transaction",
    "_Lock",
    "_TxDepthGuard",
    "_WorkerQueueIter",
]


def __getattr__(name: str) -> Any:
    import honker

    return getattr(honker, name)
