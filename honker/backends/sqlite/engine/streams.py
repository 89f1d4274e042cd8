"""Durable streams with per-consumer offsets (docs/spec/engine.md §4.6, §5.3).

Offsets come from one AUTOINCREMENT counter shared by every topic.
"""

from __future__ import annotations

import sqlite3

from ...base import EventRow
from ..connection import read_rows
from ..sql import Q


def publish(conn: sqlite3.Connection, topic: str, key: str | None, payload: str) -> int:
    """``honker_stream_publish``: append an event; returns its offset."""
    return conn.execute(Q["stream_publish"], (topic, key, payload)).lastrowid  # type: ignore[return-value]


def read_since(conn: sqlite3.Connection, topic: str, offset: int, limit: int) -> list[EventRow]:
    """``honker_stream_read_since``: events after ``offset``; negative limit = all."""
    return read_rows(conn, Q["stream_read_since"], (topic, offset, limit))


def save_offset(conn: sqlite3.Connection, consumer: str, topic: str, offset: int) -> int:
    """``honker_stream_save_offset``: 1 if inserted or advanced; never moves back."""
    return conn.execute(Q["stream_save_offset"], (consumer, topic, offset)).rowcount


def get_offset(conn: sqlite3.Connection, consumer: str, topic: str) -> int:
    """``honker_stream_get_offset``: the saved offset, or 0."""
    row = conn.execute(Q["stream_get_offset"], (consumer, topic)).fetchone()
    return 0 if row is None else row[0]
