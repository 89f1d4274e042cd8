"""The PostgreSQL backend's SQL, loaded by name from the ``.sql`` files beside this module.

``queries(schema)[name]`` is one named statement of the query files (every
``*.sql`` here but ``schema.sql``) with ``{schema}`` (and ``{now}``,
the server's clock) filled in; ``SCHEMA_SETUP`` and ``MIGRATIONS`` are the
statements :mod:`honker.backends.postgres.migrate` runs. A file holds named
sections (``-- name: x``; a line ``-- include: y`` stands for section ``y``); a
migration is a whole file ``migrations/NNN_name.sql``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# A line "-- include: other" stands for the text of section "other" (a shared fragment).
_INCLUDE = re.compile(r"^[ \t]*-- include: (\w+)[ \t]*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{3})_(\w+)\.sql$")
# Statement ends: a `;` at the end of a line, outside a $$-quoted function body.
_END = re.compile(r";[ \t]*$", re.MULTILINE)


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text("utf-8")


def _strip_comments(body: str) -> str:
    lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith("--")]
    return "\n".join(lines).strip()


def _sections(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    raw = dict(zip(parts[1::2], parts[2::2], strict=True))
    return {
        name: _strip_comments(_INCLUDE.sub(lambda m: _strip_comments(raw[m.group(1)]), body))
        for name, body in raw.items()
    }


def _statements(body: str) -> tuple[str, ...]:
    """``body``'s statements: split at each ``;`` ending a line outside a
    ``$$``-quoted function body (a PL/pgSQL body ends lines with ``;`` too)."""
    found, current = [], []
    for i, part in enumerate(_strip_comments(body).split("$$")):
        if i % 2:  # inside $$ ... $$: kept whole
            current.append(f"$${part}$$")
            continue
        pieces = _END.split(part)
        current.append(pieces[0])
        for piece in pieces[1:]:
            found.append("".join(current))
            current = [piece]
    found.append("".join(current))
    return tuple(s.strip() for s in found if s.strip())


def fill(text: str, schema: str) -> str:
    """``text`` with ``{now}`` and ``{schema}`` replaced (``schema`` is a validated name)."""
    return text.replace("{now}", "{schema}.unixepoch()").replace("{schema}", schema)


@dataclass(frozen=True)
class Migration:
    """``migrations/NNN_name.sql``: applied once, in number order, recorded in
    ``<schema>.honker_schema_version``."""

    number: int
    name: str
    statements: tuple[str, ...]


def _migrations() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is not None:
            text = entry.read_text("utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), _statements(text)))
    return tuple(sorted(found, key=lambda m: m.number))


def _load_queries() -> dict[str, str]:
    """The named statements of every ``*.sql`` file here but ``schema.sql``: one
    file per concept, as ``ops/`` has one module per concept. A name is defined once."""
    found: dict[str, str] = {}
    here = resources.files(__package__).iterdir()
    files = sorted(e.name for e in here if e.name.endswith(".sql") and e.name != "schema.sql")
    for filename in files:
        for name, text in _sections(_read(filename)).items():
            if name in found:
                raise RuntimeError(f"honker: query {name!r} is defined twice ({filename})")
            found[name] = text.rstrip(";")
    return found


_QUERIES = _load_queries()
SCHEMA_SETUP: dict[str, tuple[str, ...]] = {
    k: _statements(v) for k, v in _sections(_read("schema.sql")).items()
}
MIGRATIONS: tuple[Migration, ...] = _migrations()


@functools.cache
def queries(schema: str) -> dict[str, str]:
    """Every named statement of the query files for ``schema``."""
    return {name: fill(text, schema) for name, text in _QUERIES.items()}


# Each with_limit() text → the statement it was filled from (backend.py's
# QUIET check reads it). Bounded: a text forgotten here only runs as an
# ordinary write (BEGIN ... COMMIT), never wrongly.
_FILLED_FROM: dict[str, str] = {}


@functools.lru_cache(maxsize=256)
def with_limit(text: str, n: int) -> str:
    """``text`` (a statement of :func:`queries`) with its ``{n}`` made the literal
    ``n``: a statement whose row limit is a literal gets a plan PostgreSQL
    caches and reuses, where a ``LIMIT $n`` parameter makes it plan every call."""
    filled = text.replace("{n}", str(int(n)))
    if len(_FILLED_FROM) >= 4096:
        _FILLED_FROM.clear()
    _FILLED_FROM[filled] = text
    return filled


def template(sql: str) -> str:
    """The statement ``sql`` was filled from by :func:`with_limit` (else ``sql``)."""
    return _FILLED_FROM.get(sql, sql)


__all__ = ["MIGRATIONS", "SCHEMA_SETUP", "Migration", "fill", "queries", "template", "with_limit"]
