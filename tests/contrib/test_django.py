"""The Django Tasks backend, tested on Django 6.1 (Python >= 3.12) and on the
``django-tasks`` backport with Django 5.2 (Python 3.11).

Django 6.x needs Python 3.12+, and the dev venv is 3.11, so each test builds a
venv of its own with ``-e '.[django]'`` and pytest (the extra's markers pick
the Django), rebuilt only when pyproject.toml changes, and runs the Django
test project ``tests/contrib/django_project`` there: ``.venv-django`` under
Python >= 3.12, ``.venv-django52`` under this interpreter. Without a Python
3.12+ the Django 6 test fails and says what is missing.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "contrib" / "django_project"
MIN_VERSION = (3, 12)


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    parts = out.stdout.split()
    return (int(parts[0]), int(parts[1])) if out.returncode == 0 and len(parts) == 2 else None


def candidates() -> list[str]:
    """Where a Python >= 3.12 is looked for, in order."""
    found = [os.environ.get("HONKER_PYTHON312", "")]
    found += [shutil.which(f"python3.{minor}") or "" for minor in (12, 13, 14)]
    home = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += sorted(glob.glob(str(home / "versions" / "3.1[2-9]*" / "bin" / "python")))
    return [c for c in found if c]


def find_python() -> str | None:
    for python in candidates():
        version = _version(python)
        if version is not None and version >= MIN_VERSION:
            return python
    return None


def ensure_venv(python: str, venv: Path) -> Path:
    """``venv`` with this checkout's ``[django]`` extra; reused while pyproject holds."""
    stamp = venv / ".installed"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest() + " " + python
    if stamp.is_file() and stamp.read_text() == want:
        return venv / "bin" / "python"
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    vpy = venv / "bin" / "python"
    pip = [str(vpy), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-e", f"{REPO}[django]", "pytest>=8"], check=True, timeout=600)
    stamp.write_text(want)
    return vpy


def run_project(vpy: Path) -> str:
    """The Django test project's suite under ``vpy``; its output, once it passed."""
    env = {**os.environ, "HONKER_DJANGO_SUITE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run(
        [str(vpy), "-m", "pytest", "-c", str(PROJECT / "pytest.ini"), str(PROJECT), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    summary = re.search(r"(\d+) passed", out)
    assert summary is not None and int(summary.group(1)) >= 15, out
    assert "failed" not in out.splitlines()[-1], out
    return out


def test_the_django_project_suite_passes_on_django_6() -> None:
    python = find_python()
    if python is None:
        pytest.fail(
            "the Django 6.1 tests need Python >= 3.12 (Django 6 does not run on 3.11), and "
            "none was found; looked at: HONKER_PYTHON312, python3.12/3.13/3.14 on PATH, "
            "~/.pyenv/versions/3.12*. Install Python 3.12 or set HONKER_PYTHON312.",
            pytrace=False,
        )
    vpy = ensure_venv(python, REPO / ".venv-django")
    version = subprocess.run(
        [str(vpy), "-c", "import django; print(django.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("6."), version
    run_project(vpy)


def test_the_django_project_suite_passes_on_the_django_tasks_backport() -> None:
    if sys.version_info >= MIN_VERSION:
        pytest.skip("the backport is for Python < 3.12 (Django 5.2); this is Django 6's")
    vpy = ensure_venv(sys.executable, REPO / ".venv-django52")
    version = subprocess.run(
        [str(vpy), "-c", "import django, django_tasks; print(django.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("5.2"), version
    run_project(vpy)
