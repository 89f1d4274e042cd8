"""``honker dashboard``: serve the dashboard with uvicorn.

Semantics:
- binds ``host:port`` itself (port 0 picks a free port) before serving, so
  the address it announces is the one it listens on;
- refuses a host that is not loopback unless a token is set or the
  dashboard is read-only (:class:`UnsafeBind`);
- the ``Host`` header check follows the bind: the loopback names for a
  loopback host, the host itself (and the loopback names) for a named
  address, and any host for a wildcard address (``0.0.0.0``, ``::``) unless
  ``allowed_hosts`` says otherwise;
- SIGINT and SIGTERM stop it gracefully (uvicorn's handlers).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from ._security import LOOPBACK_NAMES, is_loopback

WILDCARDS = ("0.0.0.0", "::", "")


class UnsafeBind(ValueError):
    """A non-loopback address needs ``--token`` (or ``HONKER_DASHBOARD_TOKEN``)
    or ``--read-only``: anyone who can reach the port could otherwise
    requeue and delete jobs."""


def hosts_for(host: str, allowed_hosts: Sequence[str] | None) -> list[str] | None:
    """The Host-header names to accept for a bind to ``host``."""
    if allowed_hosts:
        return [*allowed_hosts, *LOOPBACK_NAMES]
    if is_loopback(host):
        return None  # the default: the loopback names
    if host in WILDCARDS:
        return ["*"]
    return [host, *LOOPBACK_NAMES]


def check_bind(host: str, token: str | None, read_only: bool) -> None:
    if not is_loopback(host) and not token and not read_only:
        raise UnsafeBind(
            f"refusing to serve on {host or '*'} without a token or --read-only: "
            "pass --token (or set HONKER_DASHBOARD_TOKEN), or --read-only, or bind 127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections queue from now on, before uvicorn has started
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in WILDCARDS:
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/"


def run(
    path: str,
    *,
    host: str,
    port: int,
    token: str | None,
    read_only: bool,
    allowed_hosts: Sequence[str] | None,
    announce: Callable[[str], None],
) -> None:
    """Serve the dashboard of ``path`` until SIGINT/SIGTERM."""
    import uvicorn

    from ._app import build

    check_bind(host, token, read_only)
    app = build(
        path, token=token, read_only=read_only, allowed_hosts=hosts_for(host, allowed_hosts)
    )
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    announce(url_of(sock))
    uvicorn.Server(config).run(sockets=[sock])
