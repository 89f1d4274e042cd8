"""The conformance suite: behaviour of the public API, run against every backend.

Each test here gets its database through ``db_path`` (an opaque target that
``honker.open`` accepts) and ``db``; the fixture is parametrized over
``BACKENDS``, so a test runs once per backend (``test_x[sqlite]``). Only
SQLite exists today. A test that needs a file (to delete, copy, chmod) or
speaks SQLite itself belongs in ``tests/sqlite/`` instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend this run of the test uses."""
    return str(request.param)


@pytest.fixture
def db_path(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database target for ``backend``."""
    if backend == "sqlite":
        return str(tmp_path / "t.db")
    raise AssertionError(f"no target for backend {backend!r}")
