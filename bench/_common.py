"""Shared helpers for the benchmark scripts (not part of the library).

Every figure is measured twice in the same run: through honker, and through
bare ``sqlite3`` executing the same SQL with the same PRAGMAs and the same
transaction boundaries. The ratio between the two is the number to quote; the
absolute rates depend on the machine.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from honker.backends.sqlite.connection import PRAGMAS  # noqa: E402
from honker.backends.sqlite.engine import schema  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _ideal_sql() -> dict[str, str]:
    text = (Path(__file__).resolve().parent / "sql" / "ideal.sql").read_text()
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.MULTILINE)
    return {
        name: "\n".join(ln for ln in body.splitlines() if not ln.lstrip().startswith("--"))
        .strip()
        .rstrip(";")
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


# The ideal minimal queue in bare sqlite3 (bench/sql/ideal.sql): the second baseline.
IDEAL = _ideal_sql()


def tmp_db(name: str = "bench.db") -> str:
    return os.path.join(tempfile.mkdtemp(prefix="honker-bench-"), name)


def bare_connect(path: str, with_schema: bool = True) -> sqlite3.Connection:
    """A plain sqlite3 connection set up exactly like honker's writer."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for p in PRAGMAS:
        conn.execute(p).fetchall()
    if with_schema:
        conn.execute("BEGIN IMMEDIATE")
        schema.install_all(conn)
        conn.execute("COMMIT")
    return conn


def rate(n: int, fn: Callable[[], None], repeat: int = 3) -> float:
    """Best-of-``repeat`` operations per second of ``fn`` doing ``n`` operations."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def paired(
    n: int, ours: Callable[[], None], bare: Callable[[], None], repeat: int = 5
) -> tuple[float, float]:
    """Best-of-``repeat`` rates of two workloads, run alternately.

    Alternating (ours, bare, ours, bare, ...) keeps a slow patch of the
    machine (another process, a frequency change) from landing on one side
    only, which matters for the ratio more than for either rate.
    """
    rates = alternated(n, {"ours": ours, "bare": bare}, repeat)
    return rates["ours"], rates["bare"]


def alternated(n: int, fns: dict[str, Callable[[], None]], repeat: int = 5) -> dict[str, float]:
    """Best-of-``repeat`` rates of several workloads, run in turn (see :func:`paired`)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: n / t for name, t in best.items()}


def ideal_claim_and_ack(conn: sqlite3.Connection, cycles: int) -> None:
    """``cycles`` claim + ack cycles of the ideal queue (bench/sql/ideal.sql) on
    ``conn``, each its own ``BEGIN IMMEDIATE`` ... ``COMMIT``, from queue "q"."""
    for _ in range(cycles):
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(IDEAL["claim"], ("q", "w", 300, 1)).fetchall()
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(IDEAL["ack"], (rows[0][0], "w"))
        conn.execute("COMMIT")


def claim_and_ack(q: Any, cycles: int, batch: int) -> None:
    """``cycles`` times: claim ``batch`` jobs of ``q`` (honker's API) and ack them,
    as a worker does (``Job.ack`` one by one, ``ack_batch`` for a batch)."""
    for _ in range(cycles):
        jobs = q.claim_batch("w", batch)
        if batch == 1:
            jobs[0].ack()
        else:
            q.ack_batch([j.id for j in jobs], "w")


def row(
    figure: str,
    ours: float,
    bare: float,
    unit: str = "ops/s",
    ideal: float | None = None,
    **peers: float | None,
) -> dict[str, object]:
    """One figure; ``bare`` runs honker's SQL, ``ideal`` the ideal queue (bench/sql/ideal.sql)."""
    r: dict[str, object] = {
        "figure": figure,
        "honker_py": ours,
        "bare_sqlite3": bare,
        "ratio": ours / bare,
        "unit": unit,
    }
    if ideal is not None:
        r["ideal_sqlite3"] = ideal
        r["ratio_ideal"] = ours / ideal
    r.update({k: v for k, v in peers.items()})
    return r


def print_rows(rows: list[dict[str, object]]) -> None:
    fixed = {"figure", "honker_py", "bare_sqlite3", "ratio", "unit", "ratio_ideal", "ideal_sqlite3"}
    fixed |= {k for r in rows for k in r if not isinstance(r[k], int | float) or k.endswith("_ms")}
    peers = sorted({k for r in rows for k in r} - fixed)
    head = (
        f"{'figure':<44} {'honker-py':>11} {'bare sqlite3':>13} {'ratio':>6}"
        f" {'ideal queue':>12} {'ratio':>6}" + "".join(f" {p:>14}" for p in peers)
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r['figure']:<44} {r['honker_py']:>11,.0f} {r['bare_sqlite3']:>13,.0f} {r['ratio']:>5.2f}x"
        ideal = r.get("ideal_sqlite3")
        if isinstance(ideal, int | float):
            line += f" {ideal:>12,.0f} {r['ratio_ideal']:>5.2f}x"
        else:
            line += f" {'-':>12} {'-':>6}"
        for p in peers:
            v = r.get(p)
            line += f" {v:>14,.0f}" if isinstance(v, int | float) else f" {'-':>14}"
        print(line)


def save(name: str, rows: list[dict[str, object]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2) + "\n")
