"""``honker migrate SOURCE TARGET``: move a database to another backend (``honker/_transfer.py``).

Example::

    $ honker migrate app.db 'postgresql://app@db.internal/app' --dry-run
    $ PGPASSWORD=... honker migrate app.db 'postgresql://app@db.internal/app'

A password belongs in ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads both), not
in the URL: a command line is visible to every user of the machine in the
process list. Nothing here prints a URL's password.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._cli_format import error, table
from ._errors import HonkerError


def add_parser(sub: Any) -> None:
    text = "move every job, result, stream and schedule of SOURCE into an empty TARGET"
    p: argparse.ArgumentParser = sub.add_parser(
        "migrate",
        help=text,
        description=text + ". SOURCE and TARGET are database files or postgresql:// URLs "
        "(put the password in PGPASSWORD or ~/.pgpass, not in the URL). One transaction on "
        "each side; the target commits only when every count matches.",
    )
    p.add_argument("source", metavar="SOURCE", help="the database to move (file or URL)")
    p.add_argument("target", metavar="TARGET", help="the empty database to fill (file or URL)")
    p.add_argument("--dry-run", action="store_true", help="count what would move; write nothing")
    p.add_argument(
        "--force",
        action="store_true",
        help="move even while workers hold claims (their jobs arrive claimed and are taken "
        "again when the claim expires)",
    )
    p.add_argument("--batch", type=int, default=5000, help="rows per insert (default 5000)")


def run(args: argparse.Namespace) -> int:
    from ._transfer import TABLES, migrate

    try:
        report = migrate(
            args.source, args.target, dry_run=args.dry_run, force=args.force, batch=args.batch
        )
    except HonkerError as exc:
        error("migrate", str(exc))
        return 1
    rows = [
        {"what": TABLES[t], "source": n, "target": report.target.get(t, 0) if report.target else 0}
        for t, n in report.source.items()
    ]
    if report.dry_run:
        print(table(rows, [("WHAT", "what"), ("ROWS", "source")]))
        print("dry run: nothing was written")
    else:
        print(table(rows, [("WHAT", "what"), ("SOURCE", "source"), ("TARGET", "target")]))
        print("moved: every count matches")
    if report.held_claims:
        print(f"{report.held_claims} job(s) were claimed by workers and moved as claimed (--force)")
    return 0
