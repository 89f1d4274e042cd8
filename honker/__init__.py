"""honker in pure Python: durable queues, pub/sub, streams and cron in your SQLite file.

A drop-in reimplementation of honker's Python API (github.com/russellromney/honker)
that needs no native build and shares honker's on-disk format.

Example::

    import honker

    db = honker.open("app.db")
    emails = db.queue("emails")
    with db.transaction() as tx:
        tx.execute("INSERT INTO users (email) VALUES (?)", ["a@example.com"])
        emails.enqueue({"to": "a@example.com"}, tx=tx)
"""

from __future__ import annotations

from typing import Any

from ._database import Database, open
from ._errors import BusyError as BusyError
from ._errors import ConfigError as ConfigError
from ._errors import CorruptDatabaseError as CorruptDatabaseError
from ._errors import DatabaseClosedError as DatabaseClosedError
from ._errors import DatabaseError as DatabaseError
from ._errors import DatabaseReplacedError as DatabaseReplacedError
from ._errors import DiskFullError as DiskFullError
from ._errors import HonkerError as HonkerError
from ._errors import InvalidTextError as InvalidTextError
from ._errors import LeadershipLost, LockHeld, UnknownTaskError
from ._errors import NestedTransactionError as NestedTransactionError
from ._errors import NotOnThisBackendError as NotOnThisBackendError
from ._errors import OutOfRangeError as OutOfRangeError
from ._errors import ParameterError as ParameterError
from ._errors import ReadOnlyDatabaseError as ReadOnlyDatabaseError
from ._errors import ScheduleError as ScheduleError
from ._errors import SQLFunctionError as SQLFunctionError
from ._errors import TransactionNotStartedError as TransactionNotStartedError
from ._errors import TransferError as TransferError
from ._errors import WatcherDiedError as WatcherDiedError
from ._notify import Listener, Notification
from ._queue import Job, Queue
from .backends import EXTENSION_ENTRYPOINT, extension_info, load_extension
from .backends import Transaction as Transaction

# honker's public names, in honker's order. The error classes above
# (honker.HonkerError and its subclasses) are importable but, as in honker,
# not part of __all__.
__all__ = [
    "CronSchedule",
    "Database",
    "Event",
    "Job",
    "LeadershipLost",
    "Listener",
    "LockHeld",
    "Notification",
    "Outbox",
    "Queue",
    "Retryable",
    "Scheduler",
    "Stream",
    "TaskResult",
    "UnknownTaskError",
    "EXTENSION_ENTRYPOINT",
    "crontab",
    "every_s",
    "extension_info",
    "load_extension",
    "open",
    "registry",
    "run_workers",
]

# Names whose modules are imported on first use, to keep `import honker` fast.
_LAZY = {
    "CronSchedule": ".cron.schedule",
    "crontab": ".cron.schedule",
    "every_s": ".cron.schedule",
    "Scheduler": "._scheduler",
    "Stream": "._stream",
    "Event": "._stream",
    "Outbox": "._outbox",
    "Retryable": "._tasks",
    "TaskResult": "._tasks",
    "registry": "._tasks",
    "run_workers": "._worker",
    "migrate": "._transfer",
    "TransferReport": "._transfer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'honker' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
