"""The operator's dashboard: a live web UI, job actions and ``/metrics``.

Install the extra: ``pip install 'honker-py[web]'`` (Starlette, uvicorn,
Jinja2). Run it with ``honker dashboard app.db``, or mount :func:`app` in a
Starlette or FastAPI application. docs/dashboard.md has the pages, the
actions and the security model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["app"]


def app(
    path_or_db: Any,
    *,
    token: str | None = None,
    read_only: bool = False,
    allowed_hosts: Iterable[str] | None = None,
) -> Any:
    """The dashboard as an ASGI application.

    Semantics:
    - ``path_or_db``: a database file (it must exist; the app opens it and
      closes it at shutdown) or an open :class:`honker.Database` (left open);
    - ``token``: None for no login (only sensible on loopback), else every
      request needs ``Authorization: Bearer <token>`` or the login cookie
      set by the login form (401 otherwise);
    - ``read_only``: the pages show no actions; action POSTs get 403;
    - ``allowed_hosts``: host names the ``Host`` header may carry (400
      otherwise, against DNS rebinding); default ``localhost``,
      ``127.0.0.1`` and ``::1``; ``["*"]`` allows any;
    - every action is a POST with a CSRF token, one transaction each.

    Example (FastAPI)::

        import honker, honker.web
        from fastapi import FastAPI

        db = honker.open("app.db")
        api = FastAPI()
        api.mount("/honker", honker.web.app(db, token=os.environ["HONKER_TOKEN"],
                                            allowed_hosts=["ops.example.com"]))
    """
    try:
        from ._app import build
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"honker.web needs the [web] extra: pip install 'honker-py[web]' ({exc})"
        ) from None
    return build(path_or_db, token=token, read_only=read_only, allowed_hosts=allowed_hosts)
