"""Fixtures for the wake-path suite (docs/spec/engine.md §8, docs/spec/python-api.md §7).

Every test that takes ``backend`` runs once per watcher backend: the default
(``None``), ``"polling"``, ``"shm"`` and ``"kernel"``.
"""

from __future__ import annotations

import pytest
from wakelib import BACKENDS, backend_arg


@pytest.fixture(params=BACKENDS, ids=backend_arg)
def backend(request: pytest.FixtureRequest) -> str | None:
    return request.param  # type: ignore[no-any-return]
