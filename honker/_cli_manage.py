"""Job management from the command line: ``honker jobs|requeue|delete-dead|pause|resume``.

Each command opens the database (a file, or a ``postgresql://`` URL whose
schema has honker's tables; either must exist) with ``honker.open``
and calls the job-management API (``honker/_manage.py``). A command that
changes jobs first prints how many it will touch and asks for confirmation,
unless ``--yes`` is given; without a terminal to ask on it refuses.

Example::

    $ honker jobs app.db emails --state dead --where '$.user_id=42'
    $ honker requeue app.db emails --all --yes
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import _manage
from ._cli_format import error, local, table
from ._errors import HonkerError, ParameterError

DEFAULT_JOBS_LIMIT = 50
JOB_COLUMNS = [
    ("ID", "id"),
    ("STATE", "state"),
    ("ATTEMPTS", "attempts"),
    ("RUN_AT", "run_at_local"),
    ("WORKER", "worker_id"),
    ("PAYLOAD", "payload_text"),
]


def _where_item(text: str) -> tuple[str, Any]:
    try:
        return _manage.where_item(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_parsers(sub: Any) -> None:
    """Add the job-management subcommands to the CLI's subparsers."""

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "path", metavar="PATH", help="the database file or postgresql:// URL (must exist)"
        )
        p.add_argument("queue", metavar="QUEUE", help="queue name")
        p.add_argument(
            "--where",
            action="append",
            type=_where_item,
            metavar="PATH=VALUE",
            help="payload filter, e.g. '$.user_id=42' (repeatable: ANDed)",
        )
        p.add_argument("--json", action="store_true", help="print JSON")
        return p

    j = command("jobs", "list a queue's jobs by id (keyset paged with --after)")
    j.add_argument("--state", choices=["pending", "delayed", "processing", "dead"])
    j.add_argument("--limit", type=_positive_int, default=DEFAULT_JOBS_LIMIT, metavar="N")
    j.add_argument("--after", type=int, metavar="ID", help="start after this job id")

    for name, verb in (
        ("requeue", "move dead jobs back to pending"),
        ("delete-dead", "delete dead jobs"),
    ):
        p = command(name, f"{verb}: --id N..., --all, or --where")
        p.add_argument("--id", type=int, action="append", metavar="N", help="a dead job id")
        p.add_argument("--all", action="store_true", help="every dead job of QUEUE")
        p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        if name == "requeue":
            p.add_argument("--limit", type=_positive_int, metavar="N", help="at most N jobs")
        else:
            p.add_argument(
                "--older-than-s", type=int, metavar="S", help="only jobs dead for over S seconds"
            )

    for name, help_text in (
        ("pause", "stop every claim from QUEUE, in every process, until resume"),
        ("resume", "claim from a paused QUEUE again"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "path", metavar="PATH", help="the database file or postgresql:// URL (must exist)"
        )
        p.add_argument("queue", metavar="QUEUE", help="queue name")
        p.add_argument("--json", action="store_true", help="print JSON")


COMMANDS = ("jobs", "requeue", "delete-dead", "pause", "resume")


def run(args: argparse.Namespace) -> int:
    """Run one job-management subcommand; returns the exit status."""
    import honker

    from .backends import existing_target

    command: str = args.command
    try:  # shown: the target without a URL's password, which is never printed
        shown = existing_target(args.path)
    except HonkerError as exc:
        error(command, str(exc))
        return 1
    pairs = getattr(args, "where", None)
    where = dict(pairs) if pairs else None
    try:
        db = honker.open(args.path)
    except HonkerError as exc:
        error(command, f"cannot open {shown}: {exc}")
        return 1
    try:
        q = db.queue(args.queue)
        if command == "jobs":
            return _jobs(q, args, where)
        if command in ("pause", "resume"):
            return _pause(q, args)
        return _bulk(q, args, where)
    except (HonkerError, ValueError, TypeError) as exc:
        error(command, str(exc))
        return 1
    finally:
        db.close()


def _jobs(q: Any, args: argparse.Namespace, where: dict[str, Any] | None) -> int:
    rows = q.jobs(state=args.state, limit=args.limit, after_id=args.after, where=where)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("(no jobs)")
        return 0
    for r in rows:
        r["run_at_local"] = local(r["run_at"])
        text = json.dumps(r["payload"])
        r["payload_text"] = text if len(text) <= 60 else text[:57] + "..."
    print(table(rows, JOB_COLUMNS))
    return 0


def _bulk(q: Any, args: argparse.Namespace, where: dict[str, Any] | None) -> int:
    ids = args.id
    if not (ids or args.all or where):
        error(
            args.command, "say which dead jobs: --id N (repeatable), --all, or --where PATH=VALUE"
        )
        return 2
    if args.all and (ids or where):
        error(args.command, "--all cannot be combined with --id or --where")
        return 2
    limit = getattr(args, "limit", None)
    older = getattr(args, "older_than_s", None)
    count = _manage.count_dead(q.db, q.name, ids, where, limit, older)
    verb = "requeue" if args.command == "requeue" else "delete"
    if count == 0:
        return _report(args, verb, 0)
    if not args.yes:
        if not sys.stdin.isatty():
            error(
                args.command, f"would {verb} {count} dead job(s); pass --yes (no terminal to ask)"
            )
            return 1
        print(f"{verb} {count} dead job(s) of queue {q.name!r}? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    if verb == "requeue":
        done = q.requeue_dead(ids, where=where, limit=limit)
    else:
        done = q.delete_dead(ids, where=where, older_than_s=older)
    return _report(args, verb, done)


def _pause(q: Any, args: argparse.Namespace) -> int:
    changed = q.pause() if args.command == "pause" else q.resume()
    paused = args.command == "pause"
    if args.json:
        print(json.dumps({"queue": q.name, "paused": paused, "changed": changed}))
    else:
        state = "paused" if paused else "running"
        print(f"queue {q.name!r} {'is now' if changed else 'was already'} {state}")
    return 0


def _report(args: argparse.Namespace, verb: str, n: int) -> int:
    if args.json:
        print(json.dumps({"queue": args.queue, verb + "d": n}))
    else:
        print(f"{verb}d {n} dead job(s) of queue {args.queue!r}")
    return 0
