"""``honker.web.app(db)`` mounted in the host's own ASGI app, on a database the
host opened, on each backend (Starlette's TestClient: the app in-process)."""

from __future__ import annotations

import re
import warnings

import pytest

import honker
import honker.web

starlette = pytest.importorskip("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.routing import Mount  # noqa: E402

with warnings.catch_warnings():  # this Starlette prefers httpx2 (not installed); httpx works
    warnings.filterwarnings("ignore", message=".*install `httpx2`")
    from starlette.testclient import TestClient


def test_the_app_mounted_on_an_open_database(target: str) -> None:
    db = honker.open(target)
    try:
        q = db.queue("emails", max_attempts=1)
        for i in range(2):
            q.enqueue({"n": i})
        job = q.claim_one("w")
        assert job is not None and job.fail("down")
        host = Starlette(routes=[Mount("/ops", honker.web.app(db))])
        with TestClient(host, base_url="http://localhost") as client:
            overview = client.get("/ops/api/overview").json()
            (emails,) = overview["queues"]
            assert (emails["pending"], emails["dead"], emails["failed"]) == (1, 1, 1)
            page = client.get("/ops/queue?name=emails&state=dead", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "down" in page.text
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert csrf is not None
            done = client.post(
                "/ops/actions/requeue",
                data={"queue": "emails", "scope": "all", "csrf": csrf.group(1)},
                headers={"Accept": "application/json"},
            )
            assert done.status_code == 200 and done.json()["ok"], done.text
            assert client.get("/ops/metrics").status_code == 200
        assert q.stats()["dead"] == 0 and q.stats()["pending"] == 2
    finally:
        db.close()  # the app leaves a database it was given open
