"""Fixtures for the dashboard's tests: a real ``honker dashboard`` child
process on loopback, and a real headless Chromium driven by Playwright.

Chromium is Debian's package (``/usr/bin/chromium``), which ``make test``
installs; Playwright's own browser download is not used. Missing pieces fail
the tests with what to install, they do not skip them.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, honker_threads, wait_until

CHROMIUM = os.environ.get("HONKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the closed network refuses Google's hosts
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """The suite-wide guard, minus descriptors: Playwright's browser pipes are
    the test's, not honker's. honker threads must still not leak."""
    before = honker_threads()
    yield
    wait_until(lambda: not (honker_threads() - before), timeout=2.0, message="honker threads")


class Server:
    """A ``honker dashboard`` child process and an HTTP client for it."""

    def __init__(self, path: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.path = path
        full_env = dict(os.environ)
        full_env.pop("HONKER_DASHBOARD_TOKEN", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "honker", "dashboard", path, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=full_env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            raise AssertionError(f"dashboard did not start: {line!r} {err!r}")
        self.url = match.group(1).rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        wait_until(self._up, timeout=10, message="dashboard answers")

    def _up(self) -> bool:
        try:
            self.request("GET", "/static/app.css")
            return True
        except OSError:
            return False

    def request(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | list[tuple[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> tuple[int, dict[str, str], str]:
        body = None if data is None else urllib.parse.urlencode(data, doseq=True).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        handlers: list[Any] = [_NoRedirect]
        if cookies:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, _lower(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, _lower(exc.headers), exc.read().decode()

    def csrf(self, page: str = "/") -> str:
        """The CSRF field of a page (fetching it sets the CSRF cookie)."""
        status, _, html = self.request("GET", page, headers={"Accept": "text/html"})
        assert status == 200, html
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert match, html
        return match.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """``serve(path, *args, env=None)``: start ``honker dashboard`` on a free port."""
    started: list[Server] = []

    def _serve(path: str, *args: str, env: dict[str, str] | None = None) -> Server:
        server = Server(path, list(args), env)
        started.append(server)
        return server

    yield _serve
    for server in started:
        server.stop()


_schemas = itertools.count()


@pytest.fixture
def pg_target(pg_server: Any) -> Iterator[str]:
    """A PostgreSQL URL naming a fresh schema of the session's server (dropped at teardown)."""
    import psycopg

    schema = f"w{os.getpid()}_{next(_schemas)}"
    yield str(pg_server.url(schema=schema))
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, db_path: str) -> str:
    """A fresh database of each backend: a file, or a URL naming a fresh schema."""
    if request.param == "sqlite":
        return db_path
    return str(request.getfixturevalue("pg_target"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard's browser tests need Debian's chromium "
            "(`make test` installs it: apt-get install -y chromium)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def _lower(headers: Any) -> dict[str, str]:
    """Header names in lower case (HTTP names are case-insensitive); a repeated
    header (Set-Cookie) is joined with newlines."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        k = k.lower()
        out[k] = f"{out[k]}\n{v}" if k in out else v
    return out
