"""The dashboard over plain HTTP against a real ``honker dashboard`` process:
security (Host, token, CSRF, Origin, read-only), actions, metrics, events."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers import REPO, wait_until

import honker

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def seeded(db_path: str) -> str:
    """A database file with pending, delayed and dead jobs in ``emails``."""
    return _seed(db_path)


@pytest.fixture
def seeded_any(target: str) -> str:
    """``seeded`` on each backend (a file; a PostgreSQL schema)."""
    return _seed(target)


def _seed(db_path: str) -> str:
    db = honker.open(db_path)
    q = db.queue("emails", max_attempts=1)
    for i in range(3):
        q.enqueue({"to": f"u{i}@example.com", "user_id": i})
    q.enqueue({"later": True}, delay=3600)
    job = q.claim_one("w")
    assert job is not None
    job.fail("smtp <b>down</b>")
    db.close()
    return db_path


def test_pages_render_with_the_right_counts(serve, seeded_any: str) -> None:
    server = serve(seeded_any)
    status, headers, html = server.request("GET", "/", headers=HTML)
    assert status == 200
    assert "default-src 'self'" in headers["content-security-policy"]
    row = re.search(r'<tr data-queue="emails">(.*?)</tr>', html, re.S)
    assert row, html
    counts = dict(re.findall(r'data-count="(\w+)"><a [^>]*>([\d,]+)</a>', row.group(1)))
    assert counts == {"pending": "2", "delayed": "1", "processing": "0", "dead": "1"}
    status, _, data = server.request("GET", "/api/overview")
    q = json.loads(data)["queues"][0]
    assert (q["pending"], q["delayed"], q["dead"], q["failed"]) == (2, 1, 1, 1)


def test_payload_and_errors_are_escaped(serve, db_path: str) -> None:
    db = honker.open(db_path)
    q = db.queue("xss", max_attempts=1)
    q.enqueue({"html": "<script>alert(1)</script>"})
    q.enqueue({"x": 1})
    job = q.claim_one("w")
    assert job is not None
    job.fail("<img src=x onerror=alert(2)>")
    db.close()
    server = serve(db_path)
    for path in ("/queue?name=xss", "/queue?name=xss&state=dead", "/job?queue=xss&id=1"):
        status, _, html = server.request("GET", path, headers=HTML)
        assert status == 200
        assert "<script>alert" not in html and "<img src=x" not in html
    _, _, html = server.request("GET", "/queue?name=xss", headers=HTML)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_foreign_host_header_is_refused(serve, seeded: str) -> None:
    server = serve(seeded)
    for host in ("evil.example", "evil.example:8787", "127.0.0.1.nip.io"):
        status, _, _ = server.request("GET", "/", headers={"Host": host})
        assert status == 400, host
    assert server.request("GET", "/", headers={"Host": "localhost"})[0] == 200


def test_token_required_bearer_or_login_cookie(serve, seeded: str) -> None:
    server = serve(seeded, env={"HONKER_DASHBOARD_TOKEN": "s3cret-token"})
    assert server.request("GET", "/api/overview")[0] == 401
    assert server.request("GET", "/metrics")[0] == 401
    assert server.request("GET", "/events")[0] == 401
    wrong = {"Authorization": "Bearer nope"}
    assert server.request("GET", "/api/overview", headers=wrong)[0] == 401
    status, headers, _ = server.request("GET", "/", headers=HTML)
    assert status == 401 and "/login" in headers.get("refresh", "")
    good = {"Authorization": "Bearer s3cret-token"}
    assert server.request("GET", "/api/overview", headers=good)[0] == 200
    # the login form: a wrong token gets 401, the right one a cookie
    csrf = server.csrf("/login")
    status, _, _ = server.request("POST", "/login", {"token": "nope", "csrf": csrf})
    assert status == 401
    status, headers, _ = server.request(
        "POST", "/login", {"token": "s3cret-token", "csrf": csrf, "next": "/queue?name=emails"}
    )
    assert status == 303 and headers["location"] == "/queue?name=emails"
    cookie = headers["set-cookie"]
    assert "honker_auth=" in cookie and "s3cret-token" not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert server.request("GET", "/api/overview")[0] == 200  # the cookie jar has it now
    # an open redirect is not possible through next
    status, headers, _ = server.request(
        "POST", "/login", {"token": "s3cret-token", "csrf": csrf, "next": "//evil.example/"}
    )
    assert headers["location"] == "/"


def test_actions_need_csrf_and_a_same_site_origin(serve, seeded_any: str) -> None:
    server = serve(seeded_any)
    assert server.request("POST", "/actions/pause", {"queue": "emails"}, JSON)[0] == 403
    csrf = server.csrf()
    bad = {"queue": "emails", "csrf": "0" * 64}
    assert server.request("POST", "/actions/pause", bad, JSON)[0] == 403
    good = {"queue": "emails", "csrf": csrf}
    evil = {**JSON, "Origin": "http://evil.example"}
    assert server.request("POST", "/actions/pause", good, evil)[0] == 403
    # the CSRF field is bound to this browser's cookie: another client's fails
    status, _, _ = server.request("POST", "/actions/pause", good, JSON, cookies=False)
    assert status == 403
    db = honker.open(seeded_any)
    try:
        assert not db.queue("emails").paused
        status, _, body = server.request("POST", "/actions/pause", good, JSON)
        assert status == 200 and json.loads(body)["ok"]
        assert db.queue("emails").paused
    finally:
        db.close()


def test_every_action_end_to_end(serve, seeded_any: str) -> None:
    server = serve(seeded_any)
    csrf = server.csrf()
    db = honker.open(seeded_any)
    q = db.queue("emails", max_attempts=1)

    def act(name: str, queue: str = "emails", **fields: object) -> dict:
        status, _, body = server.request(
            "POST", f"/actions/{name}", {"queue": queue, "csrf": csrf, **fields}, JSON
        )
        return {"status": status, **json.loads(body)}

    try:
        dead = q.jobs(state="dead")[0]["id"]
        delayed = q.jobs(state="delayed")[0]["id"]
        pending = q.jobs(state="pending")[0]["id"]
        assert act("requeue", ids=dead)["ok"]
        assert [j["state"] for j in q.jobs() if j["id"] == dead] == ["pending"]
        assert act("run-now", id=delayed)["message"] == f"Job {delayed} is due now."
        assert q.stats()["delayed"] == 0
        assert act("cancel", id=pending)["ok"]
        assert pending not in [j["id"] for j in q.jobs()]
        # a claimed job is not cancelled
        claimed = q.claim_one("w2")
        assert claimed is not None
        assert "not pending" in act("cancel", id=claimed.id)["message"]
        claimed.fail("again")
        # bulk: matching a filter, then everything
        bulk = db.queue("bulk", max_attempts=1)
        for i in range(4):
            bulk.enqueue({"user_id": 100 + (i % 2)})
        for job in bulk.claim_batch("w3", 4):
            job.fail("x")
        msg = act("requeue", "bulk", scope="matching", where="$.user_id=101")["message"]
        assert msg.startswith("Requeued 2 dead jobs")
        assert bulk.stats()["dead"] == 2 and bulk.stats()["pending"] == 2
        assert act("delete", "bulk", scope="all")["message"] == "Deleted 2 dead jobs of bulk."
        assert bulk.stats()["dead"] == 0
        q.enqueue({"user_id": 7})
        q.enqueue({"user_id": 7}, delay=60)
        assert act("cancel-matching", where="$.user_id=7")["message"].startswith(
            "Cancelled 2 pending jobs"
        )
        assert act("pause")["ok"] and q.paused
        assert act("resume")["ok"] and not q.paused
        # bad input: a clear message, nothing done
        bad = act("requeue", scope="selected")
        assert bad["status"] == 400 and "no jobs were selected" in bad["message"]
        assert act("requeue", ids="x")["status"] == 400
        assert act("cancel-matching", where="user_id=7")["status"] == 400
    finally:
        db.close()


def test_read_only_shows_no_actions_and_refuses_them(serve, seeded_any: str) -> None:
    server = serve(seeded_any, "--read-only")
    for path in ("/", "/queue?name=emails&state=dead", "/job?queue=emails&id=1"):
        status, _, html = server.request("GET", path, headers=HTML)
        assert status == 200
        assert "/actions/" not in html and 'method="post"' not in html, path
    db = honker.open(seeded_any)
    try:
        for action in ("requeue", "delete", "pause", "run-now", "cancel"):
            fields = {"queue": "emails", "ids": 1, "id": 1, "csrf": "x"}
            assert server.request("POST", f"/actions/{action}", fields, JSON)[0] == 403
        assert db.queue("emails").stats()["dead"] == 1 and not db.queue("emails").paused
    finally:
        db.close()


def test_non_loopback_needs_a_token_or_read_only(seeded: str) -> None:
    cmd = [sys.executable, "-m", "honker", "dashboard", seeded, "--host", "0.0.0.0"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 2
    assert "refusing to serve on 0.0.0.0" in out.stderr


def test_wildcard_bind_with_a_token_serves(serve, seeded: str) -> None:
    server = serve(seeded, "--host", "0.0.0.0", env={"HONKER_DASHBOARD_TOKEN": "t0ken"})
    assert server.request("GET", "/api/overview")[0] == 401
    auth = {"Authorization": "Bearer t0ken", "Host": "myhost.internal:8787"}
    assert server.request("GET", "/api/overview", headers=auth)[0] == 200


def test_metrics_parse_with_prometheus_client(serve, seeded_any: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    server = serve(seeded_any)
    status, headers, text = server.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("honker_jobs", (("queue", "emails"), ("state", "dead")))] == 1
    assert samples[("honker_jobs_failed_total", (("queue", "emails"),))] == 1


def test_unknown_job_and_bad_parameters(serve, seeded_any: str) -> None:
    server = serve(seeded_any)
    assert server.request("GET", "/job?queue=emails&id=999", headers=HTML)[0] == 404
    assert server.request("GET", "/job?queue=emails&id=x", headers=HTML)[0] == 400
    assert server.request("GET", "/queue?name=emails&state=bogus", headers=HTML)[0] == 400
    status, _, html = server.request("GET", "/queue?name=emails&where=nopath", headers=HTML)
    assert status == 200 and "Filter not applied" in html


def test_partial_returns_only_the_live_region(serve, seeded: str) -> None:
    server = serve(seeded)
    _, _, html = server.request("GET", "/", headers={"X-Honker-Partial": "1"})
    assert "<html" not in html and 'id="queues"' in html


def test_events_arrive_within_a_second_of_another_process_commit(serve, seeded_any: str) -> None:
    server = serve(seeded_any)
    req = urllib.request.Request(server.url + "/events")
    with urllib.request.urlopen(req, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.readline().startswith(b"retry:")
        wait_until(lambda: stream.readline().startswith(b"event: hello"), timeout=5)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import honker,sys,time; db=honker.open(sys.argv[1]); "
                "db.queue('emails').enqueue({'n': 1}); print(time.time())",
                seeded_any,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        committed = float(child.stdout)
        while not stream.readline().startswith(b"event: change"):
            pass
        assert time.time() - committed < 1.0


def test_port_in_use_is_a_clear_error(seeded: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [sys.executable, "-m", "honker", "dashboard", seeded, "--port", str(port)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 1 and "cannot serve on 127.0.0.1" in out.stderr


def test_the_dashboard_never_pins_the_wal(serve, seeded: str) -> None:
    """Between requests the dashboard holds no read transaction: a writer can
    checkpoint the whole WAL and truncate it while pages and an event stream
    are open."""
    import os
    import sqlite3

    server = serve(seeded)
    with urllib.request.urlopen(server.url + "/events", timeout=10) as stream:
        stream.readline()
        for path in ("/", "/queue?name=emails&state=dead", "/job?queue=emails&id=1", "/metrics"):
            assert server.request("GET", path, headers=HTML)[0] == 200
        db = honker.open(seeded)
        try:
            for i in range(50):
                db.queue("emails").enqueue({"i": i})  # the open pages re-read on these commits
        finally:
            db.close()
        wait_until(lambda: stream.readline().startswith(b"event: change"), timeout=5)
        conn = sqlite3.connect(seeded)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        assert busy == 0
        assert os.path.getsize(seeded + "-wal") == 0


def test_after_a_commit_the_overview_is_served_at_once_then_published(
    serve, seeded: str
) -> None:
    """Stale-while-revalidate: the first request after a commit gets the last
    read at once and starts a new one; when that is done an event tells the
    pages, and the next request has the new counts."""

    def pending() -> int:
        _, _, body = server.request("GET", "/api/overview")
        return int(json.loads(body)["queues"][0]["pending"])

    server = serve(seeded)
    with urllib.request.urlopen(server.url + "/events", timeout=10) as stream:
        assert pending() == 2  # a fresh read (nothing to serve yet)
        db = honker.open(seeded)
        try:
            db.queue("emails").enqueue({"n": 1})
        finally:
            db.close()
        while not stream.readline().startswith(b"event: change"):
            pass  # the commit's event
        if pending() == 2:  # served from the last read at once; a new read started
            while not stream.readline().startswith(b"event: change"):
                pass  # the finished read's event (no commit behind it)
        # (a machine so slow that the last read was over 2 s old read afresh: 3)
        wait_until(lambda: pending() == 3, timeout=5, message="the published read")
