"""``python manage.py honker_prune_results``: delete old Django task results."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._compat import task_backends
from ...backend import TaskBackend
from ...results import RESULT_ID_MIN


class Command(BaseCommand):
    help = (
        "Delete the results of Django tasks that finished (SUCCESSFUL or FAILED) more than "
        "--days ago, and every expired honker result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=float, default=7.0, help="age of the finished results to delete"
        )
        parser.add_argument("--backend", default="default", help="the TASKS alias")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["backend"]
        backend = task_backends[alias]
        if not isinstance(backend, TaskBackend):
            raise CommandError(f"TASKS[{alias!r}] is not a honker TaskBackend")
        if options["days"] < 0:
            raise CommandError("--days must not be negative")
        cutoff = time.time() - options["days"] * 86400
        try:
            db = backend.database()
            with db.transaction() as tx:
                rows = tx.query(
                    "DELETE FROM _honker_results WHERE job_id >= ? "
                    "AND json_extract(value, '$.finished_ts') < ? RETURNING job_id",
                    [RESULT_ID_MIN, cutoff],
                )
                expired = tx.query("SELECT honker_result_sweep() AS n")[0]["n"]
        finally:
            backend.close()
        self.stdout.write(f"pruned {len(rows)} finished task results, {expired} expired results")
