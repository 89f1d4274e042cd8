"""The exception hierarchy.

Every error this package raises on purpose derives from :class:`HonkerError`.
Where honker raises a builtin (``RuntimeError``, ``ValueError``, ``TypeError``)
our class subclasses both, keeps honker's wording, and the docstring says how to
fix the problem, so ``except RuntimeError`` written against honker still works.
"""

from __future__ import annotations


class HonkerError(Exception):
    """Base class of every error raised by honker."""


class DatabaseError(HonkerError, RuntimeError):
    """SQLite reported an error; the message is SQLite's own text.

    ``sqlite_errorname`` (e.g. ``"SQLITE_BUSY"``) and ``sqlite_errorcode`` say
    which one, when SQLite gave a code.
    """

    sqlite_errorcode: int | None = None
    sqlite_errorname: str | None = None


class BusyError(DatabaseError):
    """The database stayed locked by another connection for the whole busy
    timeout (5 s). Nothing was written; retry the operation, or shorten the
    transactions that other processes hold open."""


class ReadOnlyDatabaseError(DatabaseError):
    """The database file (or its directory, which must hold ``-wal``/``-shm``)
    is not writable by this process. Fix the permissions or the mount."""


class DiskFullError(DatabaseError):
    """The disk (or the file-size limit) is full. The failed transaction was
    rolled back; committed work is intact. Free space and retry."""


class CorruptDatabaseError(DatabaseError):
    """The file is not a SQLite database, or it is damaged. Restore it from a
    backup; honker will not write to it."""


class DatabaseReplacedError(DatabaseError):
    """The database file was deleted or replaced (renamed over, restored) after
    ``honker.open()``. This connection would write to the old, unreachable
    file, so honker refuses. Close the Database and reopen with ``honker.open()``."""


class SQLFunctionError(DatabaseError):
    """A ``honker_*`` SQL function rejected its arguments (for example
    ``ttl_s must be positive``); the message is honker's."""


class DatabaseClosedError(HonkerError, RuntimeError):
    """Database is closed. Open a new one with ``honker.open(path)``."""


class NestedTransactionError(HonkerError, RuntimeError):
    """A second ``db.transaction()`` was opened on a thread that already holds
    one. Keep one transaction open and pass ``tx=`` to the helpers instead."""


class TransactionNotStartedError(HonkerError, RuntimeError):
    """The transaction object was used outside its ``with`` block."""


class WatcherDiedError(HonkerError, RuntimeError):
    """The update watcher stopped: the database was closed, or its file was
    replaced (renamed over, restored). Reopen it with ``honker.open()``."""


class ParameterError(HonkerError, TypeError):
    """An SQL parameter or a payload has a type honker cannot store."""


class NotAScheduleError(ParameterError, AttributeError):
    """A schedule argument is not a ``CronSchedule`` (use ``honker.crontab(...)``
    or ``honker.every_s(...)``). Also an ``AttributeError``, which is what
    honker raises when the object has no ``.expr``."""


class ConfigError(HonkerError, ValueError):
    """An option passed to honker is out of range or conflicts with an earlier
    one; the message names it."""


class OutOfRangeError(ConfigError, OverflowError):
    """A numeric option is not a finite number that fits in 64 bits (for
    example ``float("inf")`` or ``2**70``); the message names the option.
    Pass an integer between -2**63 and 2**63-1."""


class InvalidTextError(HonkerError, ValueError):
    """A ``str`` argument holds a lone surrogate (such as ``"\\ud800"``, often
    left by ``os.fsdecode`` or a ``surrogateescape`` decode), which SQLite's
    UTF-8 text cannot store. Nothing was written; clean the string first, e.g.
    ``s.encode("utf-8", "replace").decode()``."""


class ScheduleError(HonkerError, ValueError):
    """A schedule expression could not be parsed or never fires; the message
    is honker's parser message."""


class LockHeld(HonkerError):
    """``db.lock(name)`` found the lock held by another owner. Try again later,
    or wait for its TTL to run out."""


class LeadershipLost(HonkerError):
    """The scheduler's leader lock was taken over by another process."""


class UnknownTaskError(HonkerError):
    """A job named a task that is not registered in this process."""


class ProbeError(DatabaseError):
    """The requested watcher backend cannot work for this database here."""


class InspectError(HonkerError):
    """The file can't be inspected; the message says why (missing, not a
    database, not a honker database)."""


class QueueInTransactionError(HonkerError, RuntimeError):
    """A queue was first opened while this thread had a transaction open.
    Construct the queue first, then pass tx= to enqueue."""


class NoScheduledTasksError(HonkerError, RuntimeError):
    """``Scheduler.run()`` found no schedule to run. Register one with
    ``scheduler.add(...)`` (in this or another process) before running."""


class NoTasksRegisteredError(HonkerError, RuntimeError):
    """``run_workers()`` found no queue to serve. Import the module that
    defines your ``@q.task()`` functions first, or pass ``queue=``."""


class DuplicateTaskError(ConfigError):
    """Two different functions were registered under one task name. Give one
    of them an explicit ``name=``, or stop importing the module twice (for
    example as a script and as a module, or through ``importlib.reload``)."""


class TargetError(ConfigError):
    """A worker target is not of the form ``"module.path:variable"``; name the
    module and the attribute holding your ``honker.Database``."""


class TargetAttributeError(HonkerError, AttributeError):
    """The target module imported but has no such attribute (or it is None);
    check the name after the ``:``."""


class TaskUsageError(HonkerError, TypeError):
    """A task decorator was used without calling it: write ``@q.task()``."""


class ResultInLoopError(HonkerError, RuntimeError):
    """``TaskResult.get()`` was called inside a running event loop; use
    ``await result.aget()`` there."""


class NotOnThisBackendError(HonkerError, NotImplementedError):
    """The feature is not available on this storage backend yet (the message
    names it). On PostgreSQL see docs/postgres.md for what works today; use a
    SQLite file for the rest meanwhile."""


class TransferError(HonkerError, RuntimeError):
    """``honker migrate`` refused or failed; the message says why and what to do.
    The target is unchanged."""
