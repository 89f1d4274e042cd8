"""Settings of the test project: a shop app whose tasks run on honker.

``HONKER_DJANGO_DB`` names the SQLite file (Django's and honker's);
``HONKER_DJANGO_OTHER_DB`` the file of the ``other`` backend, which is not
shared with Django (enqueue through ``on_commit``).
"""

import os

import django

SECRET_KEY = "test-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["honker.contrib.django", "shop"]
if django.VERSION < (6,):  # the django-tasks backport is an app of its own
    INSTALLED_APPS.append("django_tasks")

DB = os.environ["HONKER_DJANGO_DB"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB,
        "TEST": {"NAME": DB},
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}

TASKS = {
    "default": {
        "BACKEND": "honker.contrib.django.TaskBackend",
        "QUEUES": ["default", "prio"],
        "OPTIONS": {"MAX_ATTEMPTS": 2, "RETRY_DELAY_S": 0, "VISIBILITY_TIMEOUT_S": 60},
    },
    "other": {
        "BACKEND": "honker.contrib.django.TaskBackend",
        "OPTIONS": {"PATH": os.environ.get("HONKER_DJANGO_OTHER_DB", DB + ".other")},
    },
    "short": {  # a short visibility timeout: the worker's heartbeats keep long tasks claimed
        "BACKEND": "honker.contrib.django.TaskBackend",
        "QUEUES": ["slow"],
        "OPTIONS": {"VISIBILITY_TIMEOUT_S": 2, "MAX_ATTEMPTS": 2},
    },
    "eager": {
        "BACKEND": "honker.contrib.django.TaskBackend",
        "QUEUES": ["default", "prio"],
        "OPTIONS": {"EAGER": True, "MAX_ATTEMPTS": 2},
    },
}
