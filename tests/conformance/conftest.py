"""The conformance suite: behaviour of the public API, run against every backend.

Each test here gets its database through ``db_path`` (an opaque target that
``honker.open`` accepts) and ``db``; the fixture is parametrized over
``BACKENDS``, so a test runs once per backend (``test_x[sqlite]``,
``test_x[postgres]``). A test that needs a file (to delete, copy, chmod) or
speaks SQLite itself belongs in ``tests/sqlite/`` instead.

PostgreSQL (issue 16) grows in slices. A test of a feature PostgreSQL does
not have yet, or of SQLite's own behaviour, runs on SQLite only: its module
is listed in ``SQLITE_ONLY_MODULES`` or the test carries
``@pytest.mark.sqlite_only(reason=...)``; its PostgreSQL variant is
deselected (counted in pytest's "deselected" total), never skipped. Each
PostgreSQL test gets a fresh schema of the session's server
(``tests/pg_server.py``), dropped at teardown.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from honker.__main__ import main

Run = Callable[..., tuple[int, str, str]]

BACKENDS = ["sqlite", "postgres"]

# Modules (paths under tests/conformance/) not run on PostgreSQL yet, and why.
SQLITE_ONLY_MODULES = {
    "test_durations.py": "slice 7: reads SQLite's typeof() and integrity_check",
    "reliability/test_bad_input.py": "slice 7: SQLite's open() arguments and SQL dialect",
    "reliability/test_soak_short.py": "soak/run.py drives one SQLite file (--db) and checks "
    "its integrity_check",
}
HERE = Path(__file__).resolve().parent
_schemas = itertools.count()


def sqlite_only_reason(item: pytest.Item) -> str | None:
    """Why ``item`` runs on SQLite only, or None."""
    marker = item.get_closest_marker("sqlite_only")
    if marker is not None:
        return str(marker.kwargs.get("reason") or (marker.args[0] if marker.args else "sqlite"))
    try:
        rel = item.path.resolve().relative_to(HERE).as_posix()
    except ValueError:
        return None
    return SQLITE_ONLY_MODULES.get(rel)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the PostgreSQL variant of tests that run on SQLite only."""
    keep, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("backend") == "postgres"
        (dropped if on_pg and sqlite_only_reason(item) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend this run of the test uses."""
    return str(request.param)


@pytest.fixture
def db_path(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database target for ``backend``: a file for SQLite; for
    PostgreSQL a URL naming a new schema (``?schema=``) that is also the
    session's ``search_path``, so tables a test creates are dropped with it."""
    if backend == "sqlite":
        yield str(tmp_path / "t.db")
        return
    if backend != "postgres":
        raise AssertionError(f"no target for backend {backend!r}")
    server: Any = request.getfixturevalue("pg_server")
    schema = f"t{os.getpid()}_{next(_schemas)}"
    yield server.url(schema=schema, options=f"-csearch_path%3D{schema}")
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def missing_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(target, error)``: a database target of ``backend`` that does not exist
    (a file path; a schema never created), and the phrase the CLI's error says."""
    if backend == "sqlite":
        return str(tmp_path / "missing.db"), "no such database file"
    server: Any = request.getfixturevalue("pg_server")
    return server.url(schema=f"missing{os.getpid()}"), "has no honker schema"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv) -> (status, stdout, stderr)``: the CLI's ``main()`` in-process;
    argparse exits become statuses."""

    def _run(*argv: str) -> tuple[int, str, str]:
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return status, out, err

    return _run
