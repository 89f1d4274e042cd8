"""``python manage.py honker_worker``: run Django's tasks from honker queues."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import autodiscover_modules

from ..._compat import Task, task_backends
from ...backend import TaskBackend
from ...worker import serve


def discovered_tasks() -> list[Task]:
    """The ``Task`` objects defined in every installed app's ``tasks`` module."""
    import sys

    autodiscover_modules("tasks")
    found: dict[str, Task] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "tasks" or name.endswith(".tasks")):
            continue
        for value in vars(module).values():
            if isinstance(value, Task):
                found.setdefault(value.module_path, value)
    return [found[k] for k in sorted(found)]


class Command(BaseCommand):
    help = (
        "Run Django tasks enqueued on a honker TaskBackend: --concurrency workers per queue, "
        "until SIGTERM or SIGINT (running tasks finish first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="Q",
            help="a queue to serve (repeatable; default: the backend's QUEUES)",
        )
        parser.add_argument(
            "--concurrency", type=int, default=1, help="workers per queue (default 1)"
        )
        parser.add_argument(
            "--backend", default="default", help="the TASKS alias (default: 'default')"
        )
        parser.add_argument(
            "--list",
            action="store_true",
            help="list the tasks found in the apps' tasks modules and the queues, then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["backend"]
        backend = task_backends[alias]
        if not isinstance(backend, TaskBackend):
            raise CommandError(
                f"TASKS[{alias!r}] is {type(backend).__module__}.{type(backend).__name__}, "
                "not honker.contrib.django.TaskBackend"
            )
        queues = options["queues"] or sorted(backend.queues)
        if not queues:
            raise CommandError(f"TASKS[{alias!r}] has no QUEUES: name the queues with --queue")
        unknown = sorted(set(queues) - backend.queues) if backend.queues else []
        if unknown:
            raise CommandError(f"queue(s) {unknown} are not in TASKS[{alias!r}]['QUEUES']")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        if options["list"]:
            for t in discovered_tasks():
                if t.backend == alias:
                    self.stdout.write(
                        f"{t.module_path}  queue={t.queue_name} priority={t.priority}"
                    )
            self.stdout.write(f"queues: {', '.join(queues)}")
            return
        discovered_tasks()  # import the tasks modules once, before the first job
        try:
            asyncio.run(self._serve(backend, queues, options["concurrency"]))
        finally:
            backend.close()
        self.stdout.write("honker_worker: stopped")

    async def _serve(self, backend: TaskBackend, queues: list[str], concurrency: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready() -> None:
            self.stdout.write(
                f"honker_worker ready: queues {', '.join(queues)}, concurrency {concurrency}, "
                f"database {backend.path}"
            )
            self.stdout.flush()

        await serve(backend, queues, concurrency, stop, ready)
