"""The PostgreSQL side of moving a database (``honker migrate``,
``honker/_transfer.py``): statements of ``sql/transfer.sql``.

Semantics:
- ``transfer_freeze`` takes SHARE locks on the tables: readers go on, every
  writer waits until the export's transaction ends, so the copy is one
  consistent state and nothing committed meanwhile is missed;
- an import inserts a whole batch with one statement (``unnest`` of one array
  per column), every column as it is, ids included;
- an identity column does not count ids inserted explicitly, so importing
  ``sequences`` raises each id counter past the source's last id and past
  every id now in the tables (``transfer_raise_*``): the next job gets a
  fresh id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ...base import TRANSFER_COLUMNS
from ._base import OpsBase

# The id counters ``sequences`` rows name.
COUNTERS = ("jobs", "stream")


class TransferOps(OpsBase):
    __slots__ = ()

    def transfer_freeze(self) -> None:
        self._rows("transfer_freeze")

    def transfer_count(self, table: str) -> int:
        return int(self._rows(f"transfer_count_{table}")[0][0])

    def transfer_export(self, table: str, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        rows = self._rows(f"transfer_export_{table}")
        for start in range(0, len(rows), batch):
            yield rows[start : start + batch]

    def transfer_import(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if table == "sequences":
            given = {str(kind): int(value) for kind, value in rows}
            for kind in COUNTERS:
                self._rows(f"transfer_raise_{kind}", last_value=given.get(kind, 0))
            return
        if not rows:
            return
        columns = TRANSFER_COLUMNS[table]
        arrays = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
        self._fetch(self._q[f"transfer_import_{table}"], arrays)  # a column is called "name"

    def held_claims(self) -> int:
        return int(self._rows("transfer_held_claims")[0][0])
