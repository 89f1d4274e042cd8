"""The conformance suite: behaviour of the public API, run against every backend.

Each test here gets its database through ``db_path`` (an opaque target that
``honker.open`` accepts) and ``db``; the fixture is parametrized over
``BACKENDS``, so a test runs once per backend (``test_x[sqlite]``). Only
SQLite exists today. A test that needs a file (to delete, copy, chmod) or
speaks SQLite itself belongs in ``tests/sqlite/`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from honker.__main__ import main

Run = Callable[..., tuple[int, str, str]]

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
