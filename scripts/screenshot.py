"""``make screenshot``: the README's dashboard pictures, from a demo database.

Runs ``examples/demo.py`` (a small run: jobs done, poison jobs in the dead
letters), adds a little of everything else the overview shows (a delayed
job, a stream with a lagging consumer, a schedule, a lock, a rate limit),
serves it with ``honker dashboard`` and photographs the overview and the
dead-letter page in Debian's headless Chromium (Playwright).

    python scripts/screenshot.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import honker  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def seed(path: str) -> None:
    db = honker.open(path)
    emails = db.queue("emails")
    for i in range(40):
        emails.enqueue({"to": f"user{i}@example.com", "template": "welcome"})
    emails.enqueue({"to": "later@example.com", "template": "reminder"}, delay=3600)
    orders = db.stream("orders")
    for i in range(25):
        orders.publish({"order_id": 1000 + i, "total": 42.5})
    orders.save_offset("billing", 18)
    honker.Scheduler(db).add(
        name="nightly-report", queue="reports", schedule=honker.crontab("0 3 * * *")
    )
    db.lock("invoice-run", ttl=600).__enter__()  # held past the close: shown as held
    db.try_rate_limit("smtp", 100, 60)
    db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = os.path.join(tempfile.mkdtemp(prefix="honker-shot-"), "demo.db")
    demo = [sys.executable, str(ROOT / "examples" / "demo.py"), "--db", path]
    subprocess.run([*demo, "--jobs", "1500", "--rate", "1000"], check=True, capture_output=True)
    seed(path)
    server = subprocess.Popen(
        [sys.executable, "-m", "honker", "dashboard", path, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"(http://\S+)/", server.stdout.readline())
        assert match, "dashboard did not start"
        url = match.group(1)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(url + "/")
            page.wait_for_selector('#live-status[data-state="live"]')
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
            page.goto(url + "/queue?name=demo&state=dead")
            page.wait_for_selector('#live-status[data-state="live"]')
            page.screenshot(path=str(out / "dashboard-dead.png"), full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for name in ("dashboard.png", "dashboard-dead.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
