"""Set-up of the Django test project's suite (run by tests/contrib/test_django.py).

The main suite (Python 3.11, no Django) collects nothing here: the suite runs
only with ``HONKER_DJANGO_SUITE=1``, in .venv-django under Python >= 3.12.
Django is set up once per run on a fresh database file, migrated.
"""

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

if not os.environ.get("HONKER_DJANGO_SUITE"):
    collect_ignore_glob = ["*"]
else:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent.parent))  # tests/: helpers.wait_until, Child
    tmp = Path(tempfile.mkdtemp(prefix="honker-django-"))
    os.environ["HONKER_DJANGO_DB"] = str(tmp / "app.sqlite3")
    os.environ["HONKER_DJANGO_OTHER_DB"] = str(tmp / "other.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "proj.settings"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
