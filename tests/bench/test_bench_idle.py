"""The wake bench survives idle periods (issue 11, part 3).

``bench/wake.py``'s floor consumer (bare sqlite3 + raw inotify) waits in
``poll(100)`` on a non-blocking inotify descriptor. It used to read the
descriptor after every ``poll()``, so the first 100 ms without a file event
(the producer starting late, a long gap between jobs, the idle CPU figure)
raised ``BlockingIOError`` and ended ``make bench`` with ``child exited with 1``.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the floor consumer uses inotify"
)


@pytest.fixture
def wake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``bench/wake.py`` as a module, its scratch databases under ``tmp_path``."""
    monkeypatch.syspath_prepend(str(BENCH))  # for its `from _common import ...`
    spec = importlib.util.spec_from_file_location("bench_wake", BENCH / "wake.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    n = itertools.count()
    monkeypatch.setattr(
        module, "tmp_db", lambda name="bench.db": str(tmp_path / f"{next(n)}-{name}")
    )
    return module


def test_floor_consumer_idles_before_the_first_job(wake: ModuleType) -> None:
    # The producers start 0.35 s after the consumers are waiting: at least three
    # poll() timeouts with nothing to read, then every job still arrives. The
    # two backends take turns in blocks of 2 jobs (the first of each not counted).
    measured = wake.latency(["floor", "kernel"], 3, (1.0, 2.0), start_delay_s=0.35, block=2)
    assert set(measured) == {"floor", "kernel"}
    for from_commit, from_enqueue in measured.values():
        assert len(from_commit) == len(from_enqueue) == 4  # 2 blocks of 2
        assert all(0 < s < 5 for s in from_commit)


def test_floor_consumer_is_alive_after_idling(wake: ModuleType) -> None:
    # idle_cpu() fails when the child died while idle (it used to report ~0 %).
    cpu = wake.idle_cpu(wake.FLOOR, "floor", warmup_s=0.25, idle_s=0.1)
    assert cpu >= 0


def test_gap_option(wake: ModuleType) -> None:
    assert wake.parse_gap("50,500") == (50.0, 500.0)
    assert wake.default_save_name(wake.parse_gap("5,15")) == "wake"
    assert wake.default_save_name((50.0, 500.0)) == "wake-gap-50-500ms"
    for bad in ("50", "500,50", "a,b", "-1,5"):
        with pytest.raises(argparse.ArgumentTypeError):
            wake.parse_gap(bad)
