"""All of honker's SQL, loaded by name from the ``.sql`` files beside this module.

``SCHEMA[name]`` is a list of DDL statements; ``Q[name]`` is one statement;
``MIGRATIONS`` are the numbered files of ``migrations/``, in order.
Keeping the text in ``.sql`` files keeps every statement in one place and lets
the tests check query plans statement by statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# A line "-- include: other" stands for the text of section "other" (a shared
# fragment, written once).
_INCLUDE = re.compile(r"^[ \t]*-- include: (\w+)[ \t]*$", re.MULTILINE)


def _sections(filename: str) -> dict[str, str]:
    text = resources.files(__package__).joinpath(filename).read_text("utf-8")
    parts = _NAME.split(text)
    sections = {name: body for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    return {
        name: _INCLUDE.sub(lambda m: _strip_comments(sections[m.group(1)]), body)
        for name, body in sections.items()
    }


def _strip_comments(body: str) -> str:
    lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith("--")]
    return "\n".join(lines).strip()


def _statements(body: str) -> list[str]:
    return [s.strip() for s in _strip_comments(body).split(";") if s.strip()]


SCHEMA: dict[str, list[str]] = {k: _statements(v) for k, v in _sections("schema.sql").items()}
Q: dict[str, str] = {
    k: _strip_comments(v).rstrip(";")
    for filename in ("queries.sql", "inspect.sql", "manage.sql", "history.sql", "transfer.sql")
    for k, v in _sections(filename).items()
}

_ADDS = re.compile(r"^-- adds-(column|table|index): (\w+)(?:\.(\w+))?\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{3})_(\w+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """``migrations/NNN_name.sql``: DDL applied when what it adds is missing:
    ``kind`` "column" (``table.column``), "table" (``table``; ``column`` None)
    or "index" (``table.index``: ``column`` holds the index name, applied only
    once ``table`` exists). honker's format has no version table, so a
    migration is keyed by what it adds."""

    number: int
    name: str
    table: str
    column: str | None
    statements: tuple[str, ...]
    kind: str = "column"


def _migrations() -> list[Migration]:
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        text = entry.read_text("utf-8")
        adds = _ADDS.search(text)
        if adds is None or (adds.group(1) == "table") != (adds.group(3) is None):
            raise RuntimeError(
                f"migration {entry.name} needs one '-- adds-column: table.column', "
                "'-- adds-table: table' or '-- adds-index: table.index' line"
            )
        found.append(
            Migration(
                int(match.group(1)),
                match.group(2),
                adds.group(2),
                adds.group(3),
                tuple(_statements(text)),
                adds.group(1),
            )
        )
    return sorted(found, key=lambda m: m.number)


MIGRATIONS: list[Migration] = _migrations()

__all__ = ["MIGRATIONS", "Q", "SCHEMA", "Migration"]
