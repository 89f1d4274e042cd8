"""The Django app: ``INSTALLED_APPS += ["honker.contrib.django"]`` adds the
``honker_worker`` and ``honker_prune_results`` management commands."""

from __future__ import annotations

from django.apps import AppConfig


class HonkerConfig(AppConfig):
    name = "honker.contrib.django"
    label = "honker_django"
    verbose_name = "honker"
