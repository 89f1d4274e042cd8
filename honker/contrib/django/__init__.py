"""A backend for Django's Tasks framework (``django.tasks``) on honker queues.

Settings::

    INSTALLED_APPS += ["honker.contrib.django"]
    TASKS = {"default": {"BACKEND": "honker.contrib.django.TaskBackend"}}

Then ``python manage.py honker_worker`` runs the tasks. The backend lives in
:mod:`honker.contrib.django.backend`; docs/frameworks.md has the reference.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TaskBackend"]


def __getattr__(name: str) -> Any:
    # Lazy: Django imports this package while it populates the app registry,
    # before django.tasks (and its models import) may be loaded.
    if name == "TaskBackend":
        from .backend import TaskBackend

        return TaskBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
