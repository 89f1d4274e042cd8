"""The peers a user would pick instead, measured on the same workloads.

- honker's native engine: the published Node binding
  (``@russellthehippo/honker-node-linux-x64-gnu``, pinned), driven by
  ``bench/honker_node.js``; fetched with npm into ``.cache/honker-node``.
- Huey with ``SqliteHuey`` (enqueue = calling a task; claim+ack = the
  consumer's dequeue, which deletes the row).
- persist-queue ``SQLiteAckQueue`` (put; get + ack).
- litequeue ``LiteQueue`` (put; pop + done).

Each peer runs with its own defaults; figures a peer has no equivalent for
are left out.

    python bench/peers.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, save

HONKER_NODE = "@russellthehippo/honker-node-linux-x64-gnu"
HONKER_NODE_VERSION = "0.4.5"
CACHE = ROOT / ".cache" / "honker-node" / HONKER_NODE_VERSION


def honker_node_binary() -> Path | None:
    """Path to honker's native .node file, fetched from npm on first use."""
    target = CACHE / "package" / "honker.linux-x64-gnu.node"
    if target.exists():
        return target
    if platform.system() != "Linux" or platform.machine() != "x86_64" or not shutil.which("npm"):
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    spec = f"{HONKER_NODE}@{HONKER_NODE_VERSION}"
    proc = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=CACHE, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        print(f"peers: npm pack {spec} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    tgz = CACHE / proc.stdout.strip().splitlines()[-1]
    subprocess.run(["tar", "xzf", str(tgz)], cwd=CACHE, check=True)
    return target if target.exists() else None


def honker_native(jobs: int, cycles: int) -> dict[str, float]:
    binary = honker_node_binary()
    if binary is None or not shutil.which("node"):
        return {}
    out = subprocess.run(
        [
            "node",
            str(Path(__file__).with_name("honker_node.js")),
            str(binary),
            tempfile.mkdtemp(),
            str(jobs),
            str(cycles),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    t = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return n / t


PAYLOAD = {"to": "alice@example.com", "template": "welcome", "n": 1}


def huey(jobs: int, cycles: int) -> dict[str, float]:
    from huey import SqliteHuey

    out: dict[str, float] = {}
    h = SqliteHuey(filename=os.path.join(tempfile.mkdtemp(), "huey.db"))

    @h.task()
    def work(p):  # type: ignore[no-untyped-def]
        return None

    out["enqueue, 1 job per transaction"] = _best(
        jobs, lambda: [work(PAYLOAD) for _ in range(jobs)]
    )
    h.flush()
    for _ in range(1000 + cycles * 4):
        work(PAYLOAD)
    out["claim 1 + ack 1, depth 1,000"] = _best(
        cycles, lambda: [h.dequeue() for _ in range(cycles)]
    )
    return out


def persist_queue(jobs: int, cycles: int) -> dict[str, float]:
    from persistqueue import SQLiteAckQueue

    out: dict[str, float] = {}
    q = SQLiteAckQueue(tempfile.mkdtemp(), auto_commit=True, multithreading=True)
    out["enqueue, 1 job per transaction"] = _best(
        jobs, lambda: [q.put(PAYLOAD) for _ in range(jobs)]
    )
    q2 = SQLiteAckQueue(tempfile.mkdtemp(), auto_commit=True, multithreading=True)
    for _ in range(1000 + cycles * 4):
        q2.put(PAYLOAD)

    def cycle() -> None:
        for _ in range(cycles):
            item = q2.get(raw=True)
            q2.ack(id=item["pqid"])

    out["claim 1 + ack 1, depth 1,000"] = _best(cycles, cycle)
    return out


def litequeue(jobs: int, cycles: int) -> dict[str, float]:
    from litequeue import LiteQueue

    out: dict[str, float] = {}
    q = LiteQueue(os.path.join(tempfile.mkdtemp(), "lq.db"))
    out["enqueue, 1 job per transaction"] = _best(
        jobs, lambda: [q.put(json.dumps(PAYLOAD)) for _ in range(jobs)]
    )
    q2 = LiteQueue(os.path.join(tempfile.mkdtemp(), "lq.db"))
    for _ in range(1000 + cycles * 4):
        q2.put(json.dumps(PAYLOAD))

    def cycle() -> None:
        for _ in range(cycles):
            m = q2.pop()
            q2.done(m.message_id)

    out["claim 1 + ack 1, depth 1,000"] = _best(cycles, cycle)
    return out


PEERS = {
    "honker_native": honker_native,
    "huey": huey,
    "persist_queue": persist_queue,
    "litequeue": litequeue,
}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--cycles", type=int, default=2000)
    a = ap.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    for name, fn in PEERS.items():
        try:
            results[name] = fn(a.jobs, a.cycles)
        except ImportError as exc:
            print(
                f"peers: {name} not installed ({exc}); pip install -e '.[bench]'", file=sys.stderr
            )
        except Exception as exc:  # noqa: BLE001  a peer failing must not hide the others
            print(f"peers: {name} failed: {exc!r}", file=sys.stderr)
    for name, figures in results.items():
        for fig, v in figures.items():
            print(f"{name:<14} {fig:<40} {v:>12,.0f}")
    save("peers", [results])  # type: ignore[list-item]
    return results


if __name__ == "__main__":
    main()
