"""Compatibility module: honker's ``honker._honker`` names, for code that imports them."""

from __future__ import annotations

from typing import Any

from ._database import Database
from ._lock import _Lock
from ._notify import Listener, Notification
from ._outbox import DEFAULT_BASE_BACKOFF_S as DEFAULT_OUTBOX_BASE_BACKOFF_S
from ._outbox import DEFAULT_MAX_ATTEMPTS as DEFAULT_OUTBOX_MAX_ATTEMPTS
from ._outbox import DEFAULT_VISIBILITY_TIMEOUT_S as DEFAULT_OUTBOX_VISIBILITY_TIMEOUT_S
from ._queue import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_VISIBILITY_TIMEOUT_S,
    Job,
    Queue,
    _WorkerQueueIter,
)
from .backends import Transaction
from .backends import TxDepthGuard as _TxDepthGuard

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
