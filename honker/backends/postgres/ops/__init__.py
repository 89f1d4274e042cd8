"""The PostgreSQL backend's :class:`honker.backends.base.Ops`: each operation is
one or a few named statements of ``sql/*.sql`` inside the open transaction.

One module per concept, each a mixin over :class:`~._base.OpsBase` with its
statements in the ``.sql`` file of the same concept: ``queues`` (queues and
results), ``manage`` (job management, pause, throughput, the overview),
``pubsub`` (notify/listen, streams), ``coord`` (locks, rate limits, the
scheduler), ``transfer`` (``honker migrate``). Every operation of
``honker/backends/base.py`` is here; docs/postgres.md says where a semantic
differs from SQLite's.
"""

from __future__ import annotations

from ._base import Fetch, OpsBase
from .coord import CoordOps
from .manage import ManageOps
from .pubsub import PubSubOps
from .queues import QueueOps
from .transfer import TransferOps


class PostgresOps(QueueOps, ManageOps, PubSubOps, CoordOps, TransferOps):
    """Operations over one open transaction (see ``honker/backends/base.py``)."""

    __slots__ = ()


__all__ = ["Fetch", "OpsBase", "PostgresOps"]
