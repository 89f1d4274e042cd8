"""Every script in examples/ runs to completion and prints what it promises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "quickstart.py": [
        "sending 'welcome' to alice@example.com",
        "users: ['alice@example.com']",
        "jobs left: 0",
    ],
    "worker.py": ["photo-2.jpg: resized (attempt 2)", "later.jpg: resized"],
    "notify_listen.py": ["'status': 'paid'", "'status': 'shipped'", "pruned: 2"],
    "stream.py": ["saved offset: 2", "offset 4:"],
    "scheduler.py": ["fired: {'kind': 'ping'}"],
    "tasks.py": ["add(2, 3) = 5", "flaky(1) = ok after 2 attempts", "add.call_local(4, 5) = 9"],
    "outbox.py": ["attempts: 2 delivered: 1"],
    "fastapi_app.py": [
        "POST /orders -> 201 {'id': 1, 'job': 1}",
        "POST /orders (forbidden) -> 409",
        "order 1: shipped",
        "orders: 1, jobs left: 0",
    ],
    "flask_app.py": [
        "worker ready",
        "POST /orders -> 201 {'id': 1, 'job': 1}",
        "POST /orders (forbidden) -> 409",
        "order 1: shipped by the worker process",
        "worker stopped exit 0",
        "orders: 1, jobs left: 0",
    ],
    "manage.py": [
        "'pending': 2, 'delayed': 1, 'processing': 0, 'dead': 1",
        "dead: 1 {'user_id': 1, 'subject': 'welcome'} smtp down",
        "requeued: 1",
        "cancelled for user 2: 2",
        "left: ['welcome', 'receipt']",
    ],
}


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in (ROOT / "examples").glob("*.py")} - {"demo.py"}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "HONKER_EXAMPLE_DB": str(tmp_path / "example.db")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for line in EXPECTED[script]:
        assert line in proc.stdout, proc.stdout


def test_demo_runs_small(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "demo.py"),
            "--jobs",
            "300",
            "--rate",
            "1000",
            "--db",
            str(tmp_path / "demo.db"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "jobs done        297 of 300" in proc.stdout
    assert "dead letters     3" in proc.stdout
    assert "wake-up latency  p50" in proc.stdout
    assert "queueing delay   p50" in proc.stdout
    assert f"dashboard {tmp_path / 'demo.db'}" in proc.stdout


def test_demo_forever_runs_until_interrupted_and_keeps_its_database(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--forever", "--rate", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    try:
        seen = []
        for line in proc.stdout:  # one progress line a second when not on a terminal
            seen.append(line)
            if line.startswith("until Ctrl-C") and int(line.split("done")[1].split()[0]) > 0:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(seen) + out
    assert proc.returncode == 0, text + err
    db_file = tmp_path / "honker-demo.db"
    assert f"database: {db_file}" in text
    assert f"dashboard {db_file}" in text
    assert "wake-up latency" in text and "The database is kept" in text
    assert db_file.exists()
