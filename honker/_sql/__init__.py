"""All of honker's SQL, loaded by name from the ``.sql`` files beside this module.

``SCHEMA[name]`` is a list of DDL statements; ``Q[name]`` is one statement.
Keeping the text in ``.sql`` files keeps every statement in one place and lets
the tests check query plans statement by statement.
"""

from __future__ import annotations

import re
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
Q: dict[str, str] = {k: _strip_comments(v).rstrip(";") for k, v in _sections("queries.sql").items()}

__all__ = ["Q", "SCHEMA"]
