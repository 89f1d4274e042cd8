"""The command line: ``python -m honker`` (or the ``honker`` script) (docs/spec/python-api.md §17).

Subcommands:
- ``worker TARGET [--queue NAME]... [--concurrency N] [--list]`` imports
  ``TARGET`` (``"module.path:attr"`` naming a ``honker.Database``), which
  registers its ``@task`` functions, and runs them with
  :func:`honker.run_workers` until SIGINT/SIGTERM; claims in flight are
  handed back for an immediate retry;
- ``queues PATH``, ``dead PATH QUEUE``, ``streams PATH``, ``schedules PATH``
  inspect a database read-only (aligned tables, or ``--json``); PATH is a
  SQLite file or a ``postgresql://`` URL (its password is never printed);
- ``metrics PATH`` prints the Prometheus text exposition once (read-only);
- ``jobs PATH QUEUE``, ``requeue PATH QUEUE``, ``delete-dead PATH QUEUE``
  list and manage jobs (``honker/_cli_manage.py``);
- ``dashboard PATH`` serves the web dashboard (``honker/_cli_dashboard.py``);
- ``migrate SOURCE TARGET`` moves a database to another backend, e.g. a file
  to PostgreSQL (``honker/_cli_migrate.py``).

Exit status: 0 on success, 1 when the target or database can't be used or
no task is registered, 2 for usage errors (argparse's convention). This
module and its ``_cli_*`` helpers are the only places in the package that print.

Example::

    $ python -m honker worker myapp.tasks:db --queue emails --concurrency 4
    $ honker queues app.db --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import _cli_dashboard, _cli_manage, _cli_migrate
from ._cli_format import error as _error
from ._cli_format import local as _local
from ._cli_format import table as _table

DEFAULT_DEAD_LIMIT = 20


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _prog() -> str:
    return "honker" if os.path.basename(sys.argv[0] or "") == "honker" else "python -m honker"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog or _prog(),
        description="honker: durable queues, streams and cron inside a SQLite file.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    w = sub.add_parser(
        "worker",
        help="run the @task functions registered by TARGET",
        description=(
            "Import TARGET (module.path:attr naming a honker.Database; importing it "
            "registers its @task functions) and run those tasks until SIGINT or SIGTERM. "
            "Jobs claimed but not finished at shutdown are handed back for an "
            "immediate retry; a second signal stops waiting for them."
        ),
    )
    w.add_argument("target", metavar="TARGET", help="module.path:attr naming the Database")
    w.add_argument(
        "--queue",
        action="append",
        metavar="NAME",
        help="serve only this queue (repeatable; default: every queue with a task)",
    )
    w.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="workers per queue (default: the number of CPUs)",
    )
    w.add_argument("--list", action="store_true", help="list the registered tasks and exit")

    def inspector(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}. Opens PATH read-only.",
        )
        p.add_argument("path", metavar="PATH", help="the database file or postgresql:// URL")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return p

    inspector(
        "queues",
        "job counts per queue: pending (due now), processing, delayed (run_at in the future), dead",
    )
    d = inspector("dead", "the newest dead-lettered jobs of QUEUE")
    d.add_argument("queue", metavar="QUEUE", help="queue name")
    d.add_argument(
        "--limit",
        type=_positive_int,
        default=DEFAULT_DEAD_LIMIT,
        metavar="N",
        help=f"show at most N jobs (default {DEFAULT_DEAD_LIMIT})",
    )
    inspector("streams", "per stream topic and consumer: saved offset, newest offset, lag")
    inspector("schedules", "the registered periodic tasks and their next fire time")
    m = sub.add_parser(
        "metrics",
        help="print Prometheus metrics once (for node_exporter's textfile collector)",
        description=(
            "Print the Prometheus text exposition of PATH's queues, streams and schedules "
            "once. Opens PATH read-only."
        ),
    )
    m.add_argument("path", metavar="PATH", help="the database file or postgresql:// URL")
    _cli_manage.add_parsers(sub)
    _cli_dashboard.add_parser(sub)
    _cli_migrate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return the exit status."""
    args = build_parser().parse_args(argv)
    command = args.command
    if command == "worker":
        return _worker(args)
    if command in _cli_manage.COMMANDS:
        return _cli_manage.run(args)
    if command == "metrics":
        return _metrics_command(args)
    if command == "dashboard":
        return _cli_dashboard.run(args)
    if command == "migrate":
        return _cli_migrate.run(args)
    return _inspect_command(args)


# -- worker -----------------------------------------------------------------------


def _load_target(target: str) -> tuple[Any, int]:
    """``(app, 0)``, or ``(None, exit_status)`` after printing why."""
    from ._errors import TargetError
    from ._tasks import load_app

    # `python -m` puts the working directory on sys.path; the console script
    # does not, and a worker target normally lives in the current project.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    module_name = target.partition(":")[0]
    try:
        return load_app(target), 0
    except TargetError as exc:
        _error("worker", str(exc))
        return None, 2
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            _error("worker", f"cannot import module {module_name!r} (from {target!r}): {exc}")
        else:
            _error("worker", f"importing {module_name!r} failed: {_short(exc)}")
        return None, 1
    except AttributeError as exc:
        _error("worker", str(exc))
        return None, 1
    except Exception as exc:  # noqa: BLE001  the user's module raised at import: report, don't dump
        _error("worker", f"importing {module_name!r} failed: {_short(exc)}")
        return None, 1


def _short(exc: BaseException) -> str:
    """``Type: message (file:line)`` naming the innermost frame."""
    if isinstance(exc, SyntaxError):  # its message already names the file and line
        return f"{type(exc).__name__}: {exc}"
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")
    ]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _worker(args: argparse.Namespace) -> int:
    from ._tasks import registry

    target: str = args.target
    app, status = _load_target(target)
    if status:
        return status
    reg = registry()
    names = reg.names()
    if args.list:
        print(f"Registered tasks on {target}:")
        for name in names:
            spec = reg.get(name)
            assert spec is not None
            print(f"  {name}  queue={spec.queue_name}")
        return 0
    if not names:
        print(
            f"No @task-decorated functions found in {target}. "
            "Make sure the module you import actually registers tasks.",
            file=sys.stderr,
        )
        return 1
    if not callable(getattr(app, "queue", None)):
        _error("worker", f"{target} is a {type(app).__name__}, not a honker.Database")
        return 1
    queues: list[str] = args.queue or sorted(reg.queues())
    concurrency: int = args.concurrency or os.cpu_count() or 1
    try:
        asyncio.run(_serve(app, queues, concurrency, names))
    except KeyboardInterrupt:
        # A second Ctrl-C while shutting down: stop waiting for sync handlers'
        # threads (which the interpreter would otherwise join at exit).
        print("honker worker: interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)
    print("honker worker: stopped cleanly", flush=True)
    return 0


async def _serve(app: Any, queues: list[str], concurrency: int, names: list[str]) -> None:
    from ._worker import run_workers

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def request_stop() -> None:
        stop.set()
        # A second signal falls through to the default action, so an operator
        # can still force an exit while a sync handler's thread finishes.
        for sig in installed:
            loop.remove_signal_handler(sig)
        installed.clear()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # no signal support here (Windows, or not the main thread)
        installed.append(sig)
    print(
        f"honker worker: pid={os.getpid()} queues={queues!r} "
        f"concurrency={concurrency} tasks={names!r}",
        flush=True,
    )
    pools = [
        asyncio.create_task(
            run_workers(app, queue=q, concurrency=concurrency, stop_event=stop),
            name=f"honker-pool-{q}",
        )
        for q in queues
    ]
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([*pools, waiter], return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # a pool that ended early (it raised) stops the others too
    finally:
        waiter.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        results = await asyncio.gather(*pools, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


# -- inspection -----------------------------------------------------------------


def _metrics_command(args: argparse.Namespace) -> int:
    from ._errors import InspectError
    from ._metrics import render
    from .backends import open_inspector

    try:
        inspector = open_inspector(args.path)
    except InspectError as exc:
        _error("metrics", str(exc))
        return 1
    try:
        text = render(inspector.overview())
    except Exception as exc:  # noqa: BLE001  storage errors on a damaged or foreign file
        _error("metrics", f"cannot read {inspector.path}: {exc}")
        return 1
    finally:
        inspector.close()
    sys.stdout.write(text)
    return 0


def _inspect_command(args: argparse.Namespace) -> int:
    from ._errors import InspectError
    from .backends import open_inspector

    command: str = args.command
    try:
        inspector = open_inspector(args.path)
    except InspectError as exc:
        _error(command, str(exc))
        return 1
    try:
        if command == "queues":
            rows = inspector.queue_counts()
            columns = [
                ("QUEUE", "queue"),
                ("PENDING", "pending"),
                ("PROCESSING", "processing"),
                ("DELAYED", "delayed"),
                ("DEAD", "dead"),
            ]
            empty = "no queues"
        elif command == "dead":
            rows = inspector.dead_letters(args.queue, args.limit)
            for r in rows:
                r["died_at_local"] = _local(r["died_at"])
                r["error"] = (r["last_error"] or "").split("\n", 1)[0]
            columns = [
                ("ID", "id"),
                ("ATTEMPTS", "attempts"),
                ("DIED_AT", "died_at_local"),
                ("LAST_ERROR", "error"),
            ]
            empty = f"no dead jobs in queue {args.queue!r}"
        elif command == "streams":
            rows = inspector.stream_lags()
            columns = [
                ("TOPIC", "topic"),
                ("CONSUMER", "consumer"),
                ("OFFSET", "offset"),
                ("MAX_OFFSET", "max_offset"),
                ("LAG", "lag"),
            ]
            empty = "no streams"
        else:
            rows = inspector.schedules()
            for r in rows:
                r["next_fire_local"] = _local(r["next_fire_at"])
            columns = [
                ("NAME", "name"),
                ("QUEUE", "queue"),
                ("CRON_EXPR", "cron_expr"),
                ("ENABLED", "enabled"),
                ("NEXT_FIRE", "next_fire_local"),
                ("NEXT_FIRE_UNIX", "next_fire_at"),
            ]
            empty = "no schedules"
    except Exception as exc:  # noqa: BLE001  storage errors on a damaged or foreign file
        _error(command, f"cannot read {inspector.path}: {exc}")  # a URL without its password
        return 1
    finally:
        inspector.close()
    if args.json:
        for r in rows:  # table-only helper columns
            r.pop("error", None)
        print(json.dumps(rows, indent=2))
    elif rows:
        print(_table(rows, columns))
    else:
        print(f"({empty})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
