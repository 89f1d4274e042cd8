"""The PostgreSQL notification and stream operations."""

from __future__ import annotations

from ...base import EventRow
from ._base import OpsBase, missing


class PubSubOps(OpsBase):
    __slots__ = ()

    # -- notifications and streams (a later slice) ----------------------------
    def notify(self, channel: str, payload: str) -> int:
        missing("tx.notify()")

    def notify_max_id(self, channel: str) -> int:
        missing("db.listen()")

    def notify_since(self, channel: str, after_id: int) -> list[tuple[int, str, str, int]]:
        missing("db.listen()")

    def prune_notifications(self, older_than_s: int | None, max_keep: int | None) -> int:
        missing("db.prune_notifications()")

    def publish(self, topic: str, key: str | None, payload: str) -> int:
        missing("Stream.publish()")

    def read_since(self, topic: str, offset: int, limit: int) -> list[EventRow]:
        missing("Stream.subscribe()")

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        missing("Stream.save_offset()")

    def get_offset(self, consumer: str, topic: str) -> int:
        missing("Stream.get_offset()")
