"""Runs every benchmark, then writes bench/results/summary.md and chart.png.

    python bench/run_all.py          # or: make bench

Each figure is printed beside bare sqlite3 running the same SQL in the same
run; the ratio is the figure to quote. Peers (honker's native engine, Huey,
persist-queue, litequeue) are added where they have an equivalent.
"""

from __future__ import annotations

import importlib
import json
import platform
import sqlite3
import sys
import time
from pathlib import Path

from _common import RESULTS, print_rows

SCRIPTS = ["enqueue", "claim", "e2e", "stream_bench", "fanout"]


def chart(rows: list[dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "run_all: matplotlib not installed; no chart (pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return False
    series = ["honker_py", "bare_sqlite3", "honker_native", "huey", "persist_queue", "litequeue"]
    labels = {
        "honker_py": "honker-py (this)",
        "bare_sqlite3": "bare sqlite3",
        "honker_native": "honker (Rust)",
        "huey": "Huey/SqliteHuey",
        "persist_queue": "persist-queue",
        "litequeue": "litequeue",
    }
    figs = [r for r in rows if r["unit"] == "jobs/s"]
    fig, ax = plt.subplots(figsize=(12, 0.55 * len(figs) * 2 + 1.5))
    height = 0.8 / len(series)
    for i, s in enumerate(series):
        ys = [j + i * height for j in range(len(figs))]
        xs = [float(r[s]) if isinstance(r.get(s), int | float) else 0.0 for r in figs]  # type: ignore[arg-type]
        ax.barh(ys, xs, height=height, label=labels[s])
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(figs))])
    ax.set_yticklabels([str(r["figure"]) for r in figs])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("jobs per second (log scale, higher is better)")
    ax.set_title(
        f"honker-py vs bare sqlite3 and peers — {platform.machine()}, SQLite {sqlite3.sqlite_version}"
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    rows: list[dict[str, object]] = []
    t0 = time.time()
    for name in SCRIPTS:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            print(f"run_all: bench/{name}.py missing, skipped", file=sys.stderr)
            continue
        print(f"\n== {name}")
        rows += mod.main([])
    print("\n== peers")
    import peers

    peer = peers.main([])
    for r in rows:
        for name, figures in peer.items():
            if r["figure"] in figures:
                r[name] = figures[r["figure"]]
    print("\n== wake")
    import wake

    wake_rows = wake.main([])
    print("\n== summary")
    print_rows(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "all.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, in {time.time() - t0:.0f} s. Rates are per second; "
        "ratio = honker-py / bare sqlite3 in the same run.",
        "",
        "| figure | honker-py | bare sqlite3 | ratio | honker (Rust) | Huey | persist-queue | litequeue |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [
            f"{r[k]:,.0f}" if isinstance(r.get(k), int | float) else "–"
            for k in ("honker_native", "huey", "persist_queue", "litequeue")
        ]
        lines.append(
            f"| {r['figure']} | {r['honker_py']:,.0f} | {r['bare_sqlite3']:,.0f} | {r['ratio']:.2f}× | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "Wake latency (a producer process commits a job; a `claim()` iterator in another process",
        "holds it; measured from the commit, 'incl. enqueue' from before `enqueue()`) and idle CPU",
        "of a waiting worker process. The floor is bare sqlite3 + raw inotify in one thread: the",
        "file event plus one claim transaction.",
        "",
        "| backend | p50 ms | p90 ms | p99 ms | max ms | p50 incl. enqueue | × floor | idle CPU % of a core |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floor = next((w["p50_ms"] for w in wake_rows if w["backend"] == "floor"), None)
    for w in wake_rows:
        if w.get("p50_ms") is None:
            continue
        times_floor = f"{w['p50_ms'] / floor:.2f}×" if floor else "–"
        lines.append(
            f"| {w['figure']} | {w['p50_ms']:.2f} | {w['p90_ms']:.2f} | {w['p99_ms']:.2f} | "
            f"{w['max_ms']:.2f} | {w['p50_incl_enqueue_ms']:.2f} | {times_floor} | "
            f"{w['idle_cpu_pct']:.2f} |"
        )
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    if chart(rows, RESULTS / "chart.png"):
        print(f"\nwrote {RESULTS / 'summary.md'} and {RESULTS / 'chart.png'}")


if __name__ == "__main__":
    main()
