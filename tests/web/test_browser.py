"""The dashboard in a real headless Chromium (Debian's), driven by Playwright,
against a real ``honker dashboard`` process."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from helpers import REPO

import honker


def _count(page: Any, queue: str, state: str) -> str:
    cell = page.locator(f'tr[data-queue="{queue}"] td[data-count="{state}"]')
    return str(cell.inner_text()).strip()


@pytest.fixture
def seeded(db_path: str) -> str:
    return _seed(db_path)


@pytest.fixture
def seeded_any(target: str) -> str:
    """``seeded`` on each backend: a file; a PostgreSQL schema, whose live
    updates come through LISTEN/NOTIFY."""
    return _seed(target)


def _seed(db_path: str) -> str:
    db = honker.open(db_path)
    q = db.queue("emails", max_attempts=1)
    for i in range(3):
        q.enqueue({"to": f"u{i}@example.com"})
    q.enqueue({"html": "<script>window.__pwned = 1; alert(1)</script>"})
    job = q.claim_one("w")
    assert job is not None
    job.fail("smtp down")
    db.close()
    return db_path


def test_overview_counts_and_live_update_from_another_process(serve, page, seeded_any: str) -> None:
    server = serve(seeded_any)
    page.goto(server.url + "/")
    assert _count(page, "emails", "pending") == "3"
    assert _count(page, "emails", "dead") == "1"
    page.wait_for_selector('#live-status[data-state="live"]')
    page.evaluate("window.__same_page = 42")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import honker,sys,time; db=honker.open(sys.argv[1]); q=db.queue('emails'); "
            "q.enqueue({'n': 1}); q.enqueue({'n': 2}); print(time.time())",
            seeded_any,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    committed = float(child.stdout)
    page.wait_for_function(
        """() => document.querySelector('tr[data-queue="emails"] td[data-count="pending"]')
                 .innerText.trim() === "5" """,
        timeout=5000,
    )
    seen = time.time()
    assert seen - committed < 1.0, f"the page changed {seen - committed:.3f} s after the commit"
    assert page.evaluate("window.__same_page") == 42  # no reload


def test_requeue_a_dead_job_with_one_click(serve, page, seeded: str) -> None:
    server = serve(seeded)
    page.goto(server.url + "/queue?name=emails&state=dead")
    row = page.locator("#jobs tbody tr").first
    job_id = int(row.get_attribute("data-id"))
    row.locator("button.requeue").click()
    page.wait_for_selector("#flash")
    assert "Requeued 1 dead job" in page.inner_text("#flash")
    db = honker.open(seeded)
    try:
        states = {j["id"]: j["state"] for j in db.queue("emails").jobs()}
        assert states[job_id] == "pending"
    finally:
        db.close()
    page.wait_for_selector("#no-jobs")


def test_select_and_delete_with_confirmation(serve, page, db_path: str) -> None:
    db = honker.open(db_path)
    q = db.queue("bulk", max_attempts=1)
    for i in range(3):
        q.enqueue({"i": i})
    for job in q.claim_batch("w", 3):
        job.fail("x")
    server = serve(db_path)
    page.goto(server.url + "/queue?name=bulk&state=dead")
    boxes = page.locator("input.pick")
    assert boxes.count() == 3
    boxes.nth(0).check()
    boxes.nth(2).check()
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("#delete-selected")
    page.wait_for_selector("#flash")
    assert dialogs == ["Delete the selected dead jobs for good?"]
    assert "Deleted 2 dead jobs" in page.inner_text("#flash")
    try:
        assert q.stats()["dead"] == 1
    finally:
        db.close()


def test_script_payload_renders_as_text(serve, page, seeded: str) -> None:
    server = serve(seeded)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/queue?name=emails")
    assert "<script>window.__pwned = 1; alert(1)</script>" in page.inner_text("#jobs")
    page.goto(server.url + "/job?queue=emails&id=4")
    assert "<script>" in page.inner_text("#payload")
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_read_only_has_no_buttons(serve, page, seeded: str) -> None:
    server = serve(seeded, "--read-only")
    page.goto(server.url + "/queue?name=emails&state=dead")
    assert page.locator("#read-only-badge").is_visible()
    assert page.locator("button.requeue, #requeue-all, #pause, form#act").count() == 0
    page.goto(server.url + "/")
    assert page.locator("button", has_text="Pause").count() == 0


def test_login_form_with_the_token(serve, page, seeded: str) -> None:
    server = serve(seeded, env={"HONKER_DASHBOARD_TOKEN": "tok-123"})
    page.goto(server.url + "/queue?name=emails")
    page.wait_for_selector("#login")
    page.fill("#token", "wrong")
    page.click("#login button")
    assert "not right" in page.inner_text("#login")
    page.fill("#token", "tok-123")
    page.click("#login button")
    page.wait_for_selector("#jobs")
    assert page.url.endswith("/queue?name=emails")
    page.wait_for_selector('#live-status[data-state="live"]')  # the event stream is authorised


def test_pause_resume_run_now_and_cancel(serve, page, db_path: str) -> None:
    db = honker.open(db_path)
    q = db.queue("ops")
    later = q.enqueue({"later": 1}, delay=3600)
    now = q.enqueue({"now": 1})
    server = serve(db_path)
    page.on("dialog", lambda d: d.accept())
    try:
        page.goto(server.url + "/queue?name=ops")
        page.click("#pause")
        page.wait_for_selector("#paused-badge")
        assert q.paused
        page.click("#resume")
        page.wait_for_selector("#pause")
        assert not q.paused
        page.goto(server.url + f"/job?queue=ops&id={later}")
        page.click("#run-now")
        page.wait_for_selector("#flash")
        assert q.stats()["delayed"] == 0
        page.goto(server.url + f"/job?queue=ops&id={now}")
        page.click("#cancel")
        page.wait_for_selector("#flash")
        assert now not in [j["id"] for j in q.jobs()]
    finally:
        db.close()


def test_paging_filter_and_jump_to_id(serve, page, db_path: str) -> None:
    db = honker.open(db_path)
    q = db.queue("many")
    with db.transaction() as tx:
        for i in range(120):
            q.enqueue({"user_id": i % 3, "i": i}, tx=tx)
    db.close()
    server = serve(db_path)
    page.goto(server.url + "/queue?name=many")
    assert page.locator("#jobs tbody tr").count() == 50
    page.click("#next-page")
    page.wait_for_url("**after=50**")
    ids = [
        int(x)
        for x in page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ]
    assert ids[0] == 51 and len(ids) == 50
    page.fill("#where", "$.user_id=2")
    page.click("#filter-form button")
    page.wait_for_url("**where=**")
    payloads = page.locator("#jobs td.payload").all_inner_texts()
    assert payloads and all('"user_id": 2' in p for p in payloads)
    page.fill("#jump-id", "77")
    page.click("#jump-form button")
    page.wait_for_selector("#payload")
    assert '"i": 76' in page.inner_text("#payload")
