"""The soak runner (soak/run.py) for 35 seconds: producers, workers, a
listener, a stream consumer and the scheduler leader as separate processes.

It exits 0 only if no job was lost or done twice, the listener and the
consumer got everything, every schedule boundary fired once, no process grew
in RSS, descriptors or threads past the tolerances, and the file passes
``PRAGMA integrity_check``. The long run is ``python soak/run.py --minutes 10``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(150)
def test_soak_short(tmp_path: Path) -> None:
    db = tmp_path / "soak.db"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "soak" / "run.py"),
            *("--seconds", "35", "--report-every", "5", "--db", str(db)),
        ],
        capture_output=True,
        text=True,
        timeout=140,
        cwd=str(REPO),
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "soak: passed" in done.stdout
    (result,) = [ln for ln in done.stdout.splitlines() if ln.startswith("result:")]
    assert "lost 0, done twice 0, dead 0" in result
    assert "integrity ok" in result
    reports = [ln for ln in done.stdout.splitlines() if ln.startswith("[")]
    assert len(reports) >= 6, "a report every ~5 s"
    assert all("rss" in ln for ln in done.stdout.splitlines() if "producer-0" in ln)
