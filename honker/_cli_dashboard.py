"""``honker dashboard PATH``: the web dashboard (``honker/web/``, extra ``[web]``).

Example::

    $ honker dashboard app.db                       # http://127.0.0.1:8787/
    $ HONKER_DASHBOARD_TOKEN=s3cret honker dashboard app.db --host 0.0.0.0
    $ honker dashboard app.db --host 10.0.0.5 --read-only
    $ honker dashboard 'postgresql://app@db.internal/app?schema=honker'
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._cli_format import error

DEFAULT_PORT = 8787
TOKEN_ENV = "HONKER_DASHBOARD_TOKEN"


def add_parser(sub: Any) -> None:
    text = "serve the live web dashboard of a database file (needs honker-py[web])"
    p: argparse.ArgumentParser = sub.add_parser("dashboard", help=text, description=text)
    p.add_argument(
        "path", metavar="PATH", help="the database file or postgresql:// URL (must exist)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    p.add_argument(
        "--token",
        default=None,
        help=f"require this token (Bearer header or login form); also read from ${TOKEN_ENV}, "
        "which other users cannot see in the process list",
    )
    p.add_argument("--read-only", action="store_true", help="show no actions; refuse them (403)")
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a host name the Host header may carry (repeatable), e.g. behind a proxy",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from .web import _serve
    except ImportError as exc:
        error("dashboard", f"needs the [web] extra: pip install 'honker-py[web]' ({exc})")
        return 1
    from ._errors import HonkerError
    from .backends import existing_target

    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:  # shown: the target without a URL's password, which is never printed
        shown = existing_target(args.path)
    except HonkerError as exc:
        error("dashboard", str(exc))
        return 1
    try:
        _serve.check_bind(args.host, token, args.read_only)
    except _serve.UnsafeBind as exc:
        error("dashboard", str(exc))
        return 2

    def announce(url: str) -> None:
        mode = " (read-only)" if args.read_only else ""
        login = ", token required" if token else ""
        print(f"honker dashboard{mode} for {shown}{login}: {url}", flush=True)
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)

    try:
        _serve.run(
            args.path,
            host=args.host,
            port=args.port,
            token=token,
            read_only=args.read_only,
            allowed_hosts=args.allow_host,
            announce=announce,
        )
    except OSError as exc:
        error("dashboard", f"cannot serve on {args.host}:{args.port}: {exc}")
        return 1
    except RuntimeError as exc:  # the file is not a usable database
        error("dashboard", str(exc))
        return 1
    return 0
