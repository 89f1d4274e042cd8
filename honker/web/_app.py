"""The dashboard's ASGI application (Starlette): pages, actions, events, metrics.

Routes (all under the mount point):

- ``GET /``: overview; ``GET /queue?name=Q[&state=S&where=...&after=ID]``:
  one queue's jobs; ``GET /job?queue=Q&id=N``: one job and its result;
- ``GET /events``: the server-sent events that keep pages live (``_live.py``);
- ``GET /metrics``: Prometheus text (``honker/_metrics.py``);
  ``GET /api/overview``: the overview as JSON;
- ``POST /actions/{pause,resume,requeue,delete,run-now,cancel,cancel-matching}``:
  the operator's actions, each one transaction through ``honker/_manage.py``;
- ``GET|POST /login``, ``POST /logout`` when a token is set.

A page fetched with the header ``X-Honker-Partial: 1`` returns only its data
part (``<main id="live">``), which the page's script swaps in on each event.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import _manage
from .._errors import HonkerError
from .._metrics import render as render_metrics
from ..backends.base import JOB_STATES
from . import _data
from ._live import Live
from ._security import AUTH_COOKIE, CSRF_COOKIE, Guard

if TYPE_CHECKING:
    from .._database import Database

HERE = Path(__file__).parent
FLASH_COOKIE = "honker_flash"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC_PREFIXES = ("/login", "/static/")
OVERVIEW_MAX_AGE_S = 5.0
OVERVIEW_STALE_S = 2.0


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is HTML-escaped: a <script> payload shows as text
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["duration"] = _data.duration
    env.filters["relative"] = _data.relative
    env.filters["absolute"] = _data.absolute
    return env


class Dashboard:
    """One dashboard over one database (see :func:`honker.web.app`)."""

    def __init__(
        self,
        db: Database,
        *,
        owns_db: bool,
        token: str | None,
        read_only: bool,
        allowed_hosts: Iterable[str] | None,
    ) -> None:
        self.db = db
        self.owns_db = owns_db
        self.guard = Guard(token, read_only, allowed_hosts)
        self.live = Live(db)
        self.env = _environment()
        self._overview: tuple[int, float, dict[str, Any]] | None = None
        self._reading: asyncio.Future[dict[str, Any]] | None = None
        self._reading_version = -1
        self._background: asyncio.Future[None] | None = None

    # -- the ASGI app ----------------------------------------------------------
    def asgi(self) -> ASGIApp:
        routes = [
            Route("/", self.overview_page, name="overview"),
            Route("/queue", self.queue_page, name="queue"),
            Route("/job", self.job_page, name="job"),
            Route("/events", self.events, name="events"),
            Route("/metrics", self.metrics, name="metrics"),
            Route("/api/overview", self.overview_json, name="api_overview"),
            Route("/login", self.login, methods=["GET", "POST"], name="login"),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
            Route("/actions/{action}", self.action, methods=["POST"], name="action"),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await self.live.close()
                for pending in (self._background, self._reading):
                    if pending is not None:  # a read in flight finishes before the close
                        with contextlib.suppress(Exception):
                            await pending
                if self.owns_db:
                    self.db.close()

        return _Gate(Starlette(routes=routes, lifespan=lifespan), self.guard)

    # -- rendering -------------------------------------------------------------
    def _page(self, request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        csrf_cookie = request.cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not csrf_cookie:
            csrf_cookie = new_cookie = self.guard.new_csrf_cookie()
        partial = request.headers.get("x-honker-partial") == "1"
        # A partial (the live refresh) leaves the flash message to the page load
        # it belongs to: it may race the redirect that follows an action.
        flash = None if partial else request.cookies.get(FLASH_COOKIE)
        kind, _, text = (flash or "").partition(":")
        path = request.url.path
        base = request.scope.get("root_path", "")
        here = path + (f"?{request.url.query}" if request.url.query else "")
        body = self.env.get_template(template).render(
            base=base,
            here=here,
            partial=partial,
            read_only=self.guard.read_only,
            token_set=self.guard.token is not None,
            csrf=self.guard.csrf_token(csrf_cookie),
            db_path=self.db.path,
            live=True,
            flash=urllib.parse.unquote(text) if flash else None,
            flash_kind=kind,
            act_queue=ctx.pop("act_queue", None),
            **ctx,
        )
        response = HTMLResponse(body, status_code=status)
        _harden(response)
        response.headers["Cache-Control"] = "no-store"
        if new_cookie:
            _cookie(response, request, CSRF_COOKIE, new_cookie)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path=base or "/")
        return response

    def _message(self, request: Request, status: int, heading: str, message: str) -> Response:
        return self._page(request, "message.html", status, heading=heading, message=message)

    # -- pages -----------------------------------------------------------------
    async def _overview_data(self) -> dict[str, Any]:
        """The overview (stale-while-revalidate).

        - the last read is served while no commit came after it (and it is
          under ``OVERVIEW_MAX_AGE_S`` old: ages and "in 5 min" move without
          commits);
        - after a commit, a read at most ``OVERVIEW_STALE_S`` old is served at
          once while a new read runs in the background; when that finishes,
          :meth:`Live.publish` makes every open page fetch it. So a page never
          waits for the counts (a full count of a million jobs takes ~0.1 s),
          and shows them at most one read late;
        - with no read that recent (the first request, a quiet minute), or
          after an action, the request waits for a fresh read.
        """
        self.live.start()
        version, now = self.live.version, time.monotonic()
        cached = self._overview
        if cached is not None and not self.live.dead:
            age = now - cached[1]
            if cached[0] == version and age < OVERVIEW_MAX_AGE_S:
                return cached[2]
            if age < OVERVIEW_STALE_S:
                self._revalidate()
                return cached[2]
        return await self._read_overview()

    async def _read_overview(self) -> dict[str, Any]:
        """A read that began after the latest commit this app has seen. One read
        runs at a time: a caller that finds one running since that commit
        takes its result; one running since before waits for it, then reads."""
        while True:
            running, since, version = self._reading, self._reading_version, self.live.version
            if running is None:
                break
            data = await asyncio.shield(running)
            if since == version:
                return data
        task = asyncio.ensure_future(run_in_threadpool(_data.overview, self.db))
        self._reading, self._reading_version = task, version
        try:
            data = await asyncio.shield(task)
        finally:
            if self._reading is task:
                self._reading = None
        if self._overview is None or self._overview[0] <= version:
            self._overview = (version, time.monotonic(), data)
        return data

    def _revalidate(self) -> None:
        if self._reading is not None:
            return

        async def refresh() -> None:
            with contextlib.suppress(Exception):  # a failed read: the next request retries
                await self._read_overview()
                self.live.publish()

        self._background = asyncio.ensure_future(refresh())

    async def overview_page(self, request: Request) -> Response:
        start = time.perf_counter()
        data = await self._overview_data()
        read = time.perf_counter()
        response = self._page(request, "overview.html", data=data)
        done = time.perf_counter()
        response.headers["Server-Timing"] = (
            f"read;dur={(read - start) * 1000:.1f}, render;dur={(done - read) * 1000:.1f}"
        )
        return response

    async def overview_json(self, request: Request) -> Response:
        return JSONResponse(await self._overview_data())

    async def queue_page(self, request: Request) -> Response:
        params = request.query_params
        name = params.get("name", "")
        state = params.get("state") or None
        where_text = params.get("where", "").strip()
        if not name:
            return self._message(request, 400, "No queue", "Say which queue: /queue?name=QUEUE")
        if state is not None and state not in JOB_STATES:
            msg = f"state must be one of {', '.join(JOB_STATES)}"
            return self._message(request, 400, "Unknown state", msg)
        after = _int(params.get("after"))
        error = None
        try:
            where = _data.parse_where(where_text)
        except HonkerError as exc:
            where, error = None, f"Filter not applied: {exc}"
        try:
            page = await run_in_threadpool(_data.queue_page, self.db, name, state, after, where)
        except HonkerError as exc:
            where, error = None, f"Filter not applied: {exc}"
            page = await run_in_threadpool(_data.queue_page, self.db, name, state, after, None)
        where_q = "&where=" + urllib.parse.quote(where_text) if where is not None else ""
        return self._page(
            request,
            "queue.html",
            page=page,
            states=JOB_STATES,
            where_text=where_text if where is not None else "",
            where_q=where_q,
            error=error,
            act_queue=name,
        )

    async def job_page(self, request: Request) -> Response:
        name = request.query_params.get("queue", "")
        job_id = _int(request.query_params.get("id"))
        if not name or job_id is None or job_id < 1:
            return self._message(request, 400, "No job", "Say which job: /job?queue=QUEUE&id=N")
        detail = await run_in_threadpool(_data.job_detail, self.db, name, job_id)
        if detail is None:
            text = (
                f"There is no job {job_id} in queue {name!r}, and no saved result for it. "
                "Acked jobs are deleted; a job of another queue is not shown here."
            )
            return self._message(request, 404, f"Job {job_id} not found", text)
        return self._page(request, "job.html", d=detail, act_queue=name)

    async def events(self, request: Request) -> Response:
        return StreamingResponse(
            self.live.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def metrics(self, request: Request) -> Response:
        overview = await run_in_threadpool(self.db._read, lambda o: o.overview())
        return PlainTextResponse(
            render_metrics(overview), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    # -- login -----------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        base = request.scope.get("root_path", "")
        if self.guard.token is None:
            return RedirectResponse(base + "/", status_code=303)
        failed = False
        next_path = request.query_params.get("next")
        if request.method == "POST":
            form = await request.form()
            if not self.guard.csrf_ok(request.cookies.get(CSRF_COOKIE), _field(form, "csrf")):
                return _forbidden("The form expired or did not come from this page: reload it.")
            next_path = _field(form, "next")
            session = self.guard.login(_field(form, "token") or "")
            if session is not None:
                response = RedirectResponse(_safe_next(next_path, base), 303)
                _cookie(response, request, AUTH_COOKIE, session)
                return response
            failed = True
        return self._login_page(request, next_path, failed, 401 if failed else 200)

    def _login_page(
        self, request: Request, next_path: str | None, failed: bool, status: int
    ) -> Response:
        return self._page(
            request,
            "login.html",
            status,
            next=_safe_next(next_path, request.scope.get("root_path", "")),
            failed=failed,
        )

    async def logout(self, request: Request) -> Response:
        base = request.scope.get("root_path", "")
        form = await request.form()
        if not self.guard.csrf_ok(request.cookies.get(CSRF_COOKIE), _field(form, "csrf")):
            return _forbidden("The form expired or did not come from this page: reload it.")
        response = RedirectResponse(base + "/login", status_code=303)
        response.delete_cookie(AUTH_COOKIE, path=base or "/")
        return response

    # -- actions ---------------------------------------------------------------
    async def action(self, request: Request) -> Response:
        if self.guard.read_only:
            return _forbidden("This dashboard is read-only.")
        name = request.path_params["action"]
        fn = ACTIONS.get(name)
        if fn is None:
            return PlainTextResponse(f"no action {name!r}", status_code=404)
        form = await request.form()
        if not self.guard.csrf_ok(request.cookies.get(CSRF_COOKIE), _field(form, "csrf")):
            return _forbidden("The form expired or did not come from this page: reload it.")
        if not self.guard.origin_ok(request.headers.get("origin"), request.headers.get("host")):
            return _forbidden("The request came from another site.")
        queue = _field(form, "queue")
        ok = True
        try:
            if not queue:
                raise _ActionError("say which queue (the form field 'queue')")
            message = await run_in_threadpool(fn, self.db, queue, form)
        except (HonkerError, _ActionError) as exc:
            ok, message = False, f"Nothing done: {exc}"
        self._overview = None
        self.live.bump()
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"ok": ok, "message": message}, status_code=200 if ok else 400)
        base = request.scope.get("root_path", "")
        response = RedirectResponse(_safe_next(_field(form, "next"), base), status_code=303)
        flash = ("ok:" if ok else "error:") + urllib.parse.quote(message)
        _cookie(response, request, FLASH_COOKIE, flash, max_age=60)
        return response


# -- actions: one transaction each, through the job-management API -----------


class _ActionError(Exception):
    pass


def _ids(form: FormData) -> list[int]:
    out = []
    for raw in form.getlist("ids"):
        value = _int(raw if isinstance(raw, str) else None)
        if value is None:
            raise _ActionError(f"job ids must be integers, got {raw!r}")
        out.append(value)
    return out


def _dead_targets(form: FormData) -> tuple[list[int] | None, dict[str, Any] | None]:
    """The dead jobs an action names: ``(ids, None)``, ``(None, where)`` or (None, None) for all."""
    scope = _field(form, "scope") or "selected"
    if scope == "selected":
        ids = _ids(form)
        if not ids:
            raise _ActionError("no jobs were selected")
        return ids, None
    if scope == "matching":
        where = _data.parse_where(_field(form, "where"))
        if where is None:
            raise _ActionError("no filter was given")
        return None, where
    if scope == "all":
        return None, None
    raise _ActionError(f"scope must be selected, matching or all, got {scope!r}")


def _plural(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _requeue(db: Database, queue: str, form: FormData) -> str:
    ids, where = _dead_targets(form)
    n = _manage.requeue_dead(db, queue, ids, where, None)
    return f"Requeued {_plural(n, 'dead job')} of {queue}: pending, due now."


def _delete(db: Database, queue: str, form: FormData) -> str:
    ids, where = _dead_targets(form)
    n = _manage.delete_dead(db, queue, ids, where, None)
    return f"Deleted {_plural(n, 'dead job')} of {queue}."


def _one_id(form: FormData) -> int:
    job = _int(_field(form, "id"))
    if job is None:
        raise _ActionError("say which job (the form field 'id')")
    return job


def _run_now(db: Database, queue: str, form: FormData) -> str:
    job = _one_id(form)
    if _manage.run_now(db, queue, job):
        return f"Job {job} is due now."
    return f"Job {job} is not a delayed job of {queue}: nothing changed."


def _cancel(db: Database, queue: str, form: FormData) -> str:
    job = _one_id(form)
    if _manage.cancel_pending(db, queue, job):
        return f"Cancelled job {job}."
    return f"Job {job} is not pending in {queue} (a claimed job finishes first): nothing changed."


def _cancel_matching(db: Database, queue: str, form: FormData) -> str:
    where = _data.parse_where(_field(form, "where"))
    if where is None:
        raise _ActionError("no filter was given")
    n = _manage.cancel_where(db, queue, where)
    return f"Cancelled {_plural(n, 'pending job')} of {queue}."


def _pause(db: Database, queue: str, form: FormData) -> str:
    changed = _manage.set_paused(db, queue, True)
    return f"Paused {queue}." if changed else f"{queue} was already paused."


def _resume(db: Database, queue: str, form: FormData) -> str:
    changed = _manage.set_paused(db, queue, False)
    return f"Resumed {queue}." if changed else f"{queue} was not paused."


ACTIONS: dict[str, Callable[[Database, str, FormData], str]] = {
    "pause": _pause,
    "resume": _resume,
    "requeue": _requeue,
    "delete": _delete,
    "run-now": _run_now,
    "cancel": _cancel,
    "cancel-matching": _cancel_matching,
}


# -- the gate: Host check and authentication before any route -----------------


class _Gate:
    """Pure ASGI: 400 for a foreign Host, 401 without the token (if one is set)."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not self.guard.host_ok(request.headers.get("host")):
            response: Response = PlainTextResponse("Invalid Host header", status_code=400)
            await response(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if not path.startswith("/"):
            path = "/" + path
        if not path.startswith(PUBLIC_PREFIXES) and not self.guard.authenticated(
            request.headers.get("authorization"), request.cookies.get(AUTH_COOKIE)
        ):
            response = _unauthorized(request, path)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _unauthorized(request: Request, path: str) -> Response:
    base = request.scope.get("root_path", "")
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{base}/login?next={urllib.parse.quote(target)}"
        page = (
            '<!doctype html><meta charset="utf-8"><title>Log in</title>'
            f'<p>This dashboard needs its token: <a href="{html.escape(location)}">log in</a>.</p>'
        )
        response: Response = HTMLResponse(page, status_code=401)
        response.headers["Refresh"] = f"0; url={location}"
    else:
        response = PlainTextResponse("401: this dashboard needs its token", status_code=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="honker"'
    _harden(response)
    return response


# -- small helpers ---------------------------------------------------------------


def _forbidden(text: str) -> Response:
    response = PlainTextResponse(f"403: {text}", status_code=403)
    _harden(response)
    return response


def _harden(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"


def _cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=request.scope.get("root_path", "") or "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _safe_next(target: str | None, base: str) -> str:
    """A same-site path to go back to (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return base + "/"
    return target if not base or target.startswith(base) else base + target


def build(
    path_or_db: Any,
    *,
    token: str | None,
    read_only: bool,
    allowed_hosts: Iterable[str] | None,
) -> ASGIApp:
    """See :func:`honker.web.app`."""
    from .._database import Database
    from .._database import open as open_db
    from ..backends import is_postgres

    if isinstance(path_or_db, Database):
        db, owns = path_or_db, False
    elif isinstance(path_or_db, str | os.PathLike):
        path = os.fspath(path_or_db)
        if not is_postgres(path) and not os.path.isfile(path):
            raise FileNotFoundError(f"no such database file: {path}")
        db, owns = open_db(path), True
    else:
        raise TypeError(
            f"path_or_db must be a database path or a honker.Database, "
            f"got {type(path_or_db).__name__}"
        )
    dashboard = Dashboard(
        db, owns_db=owns, token=token, read_only=read_only, allowed_hosts=allowed_hosts
    )
    return dashboard.asgi()
