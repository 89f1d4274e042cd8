"""Runs every benchmark, then writes bench/results/summary.md and chart.png.

    python bench/run_all.py               # or: make bench
    python bench/run_all.py --only wake   # rerun some; the others from results/*.json
    python bench/run_all.py --quick       # tiny counts, into a temp dir: checks the pipeline

Each figure is printed beside bare sqlite3 running the same SQL in the same
run; the ratio is the figure to quote. Peers (honker's native engine, Huey,
persist-queue, litequeue) are added where they have an equivalent.

The wake bench runs twice, each run with its own floor: jobs 5-15 ms apart
(300 per backend, with the idle CPU figures) and 50-500 ms apart, so every
wake-up follows a real idle gap (120 per backend, about 220 s for the six
backends: with 60 the p50 of two identical backends differed by up to 20 %;
idle CPU does not depend on the gap and is not measured again).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import print_rows

SCRIPTS = ["enqueue", "claim", "e2e", "stream_bench", "fanout"]
SAVED_AS = {"stream_bench": "stream"}  # results/NAME.json each script writes
PARTS = [*SCRIPTS, "peers", "wake"]
# (gap range in ms, jobs per backend, extra options): one wake.py run each.
WAKE_RUNS: list[tuple[str, int, list[str]]] = [
    ("5,15", 300, []),
    ("50,500", 120, ["--idle-s", "0"]),  # 6 backends x 6 blocks of 21 jobs x 275 ms: about 220 s
]
QUICK_ARGS = {  # --quick: enough work to run every code path, no meaningful figure
    "enqueue": ["--jobs", "500"],
    "claim": ["--cycles", "100"],
    "e2e": ["--jobs", "200", "--window-s", "0.5", "--rounds", "1"],
    "stream_bench": ["--events", "1000"],
    "fanout": ["--messages", "20", "--listeners", "10"],
    "peers": ["--jobs", "200", "--cycles", "100"],
    "wake": ["--idle-s", "0.5", "--warmup-s", "0.2"],
}
QUICK_WAKE_SAMPLES = 3


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


def machine() -> str:
    return (
        f"{platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def load(results: Path, name: str) -> list[dict[str, object]]:
    path = results / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"run_all: {path} missing; run without --only first")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def wake_argv(gap: str, samples: int, extra: list[str], quick: bool) -> list[str]:
    argv = ["--gap-ms", gap, "--samples", str(QUICK_WAKE_SAMPLES if quick else samples), *extra]
    return argv + (QUICK_ARGS["wake"] if quick and "--idle-s" not in extra else [])


def wake_name(gap: str) -> str:
    import wake

    return wake.default_save_name(wake.parse_gap(gap))


def wake_lines(runs: list[tuple[str, str, list[dict[str, object]]]]) -> list[str]:
    """The wake tables of summary.md (and the README): one per gap range."""
    lines = [
        "Wake latency (a producer process commits a job; a `claim()` iterator in another process",
        "holds it; measured from the commit, 'incl. enqueue' from before `enqueue()`) and idle CPU",
        "of a waiting worker process. The floor, as issue 15 defines it, is a bare sqlite3",
        "enqueue, then bare sqlite3 + raw inotify in one thread: the file event, `PRAGMA",
        "data_version` confirming the commit, one claim transaction ('floor without confirmation'",
        "claims on every file event). Each gap range is one run with its own floor, the backends",
        "taking turns in blocks of jobs; 'incl. × floor' (from the `enqueue()` call) is issue 15's",
        "figure.",
    ]
    for gap, header, rows in runs:
        lo, hi = gap.split(",")
        lat = [w for w in rows if w.get("p50_ms") is not None]
        with_cpu = any(w.get("idle_cpu_pct") is not None for w in lat)
        samples = max((int(w["samples"]) for w in lat), default=0)  # type: ignore[call-overload]
        lines += ["", f"Jobs {lo}–{hi} ms apart, {samples} per backend. {header}"]
        if not with_cpu:
            lines[-1] += " Idle CPU does not depend on the gap: see the table above."
        if samples < 100:
            lines[-1] += f" With {samples} samples p99 is the max."
        lines += [
            "",
            "| backend | p50 ms | p90 ms | p99 ms | max ms | p50 incl. enqueue | × floor "
            "| incl. × floor |" + (" idle CPU % of a core |" if with_cpu else ""),
            "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_cpu else ""),
        ]
        floor = next((w for w in lat if w["backend"] == "floor"), None)
        for w in lat:
            times_floor = incl_floor = "–"
            if floor is not None:
                times_floor = f"{w['p50_ms'] / floor['p50_ms']:.2f}×"  # type: ignore[operator]
                incl = w["p50_incl_enqueue_ms"] / floor["p50_incl_enqueue_ms"]  # type: ignore[operator]
                incl_floor = f"{incl:.2f}×"
            lines.append(
                f"| {w['figure']} | {w['p50_ms']:.2f} | {w['p90_ms']:.2f} | {w['p99_ms']:.2f} | "
                f"{w['max_ms']:.2f} | {w['p50_incl_enqueue_ms']:.2f} | {times_floor} | "
                f"{incl_floor} |" + (f" {w['idle_cpu_pct']:.2f} |" if with_cpu else "")
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--only",
        metavar="NAMES",
        help=f"comma-separated, of {','.join(PARTS)}: run these only and take the "
        "other figures from the results directory",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="tiny counts (figures meaningless), into a new temp dir unless --results",
    )
    ap.add_argument("--results", type=Path, help="results directory (default bench/results)")
    a = ap.parse_args(argv)
    parts = PARTS if a.only is None else a.only.split(",")
    if unknown := set(parts) - set(PARTS):
        ap.error(f"--only: unknown {','.join(sorted(unknown))}; choose from {','.join(PARTS)}")
    results = a.results or (
        Path(tempfile.mkdtemp(prefix="honker-bench-quick-")) if a.quick else _common.RESULTS
    )
    _common.RESULTS = results  # where every script's save() writes
    results.mkdir(parents=True, exist_ok=True)
    meta_path = results / "meta.json"
    meta: dict[str, str] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if "throughput" not in meta and (results / "summary.md").exists():
        first = (results / "summary.md").read_text().split("\n", 1)[0]
        if first.startswith("Measured "):  # results from before meta.json existed
            meta["throughput"] = first

    ran: dict[str, list[dict[str, object]]] = {}
    t0 = time.time()
    for name in SCRIPTS:
        if name not in parts:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError:
            print(f"run_all: bench/{name}.py missing, skipped", file=sys.stderr)
            continue
        print(f"\n== {name}")
        ran[name] = mod.main(QUICK_ARGS[name] if a.quick else [])
    peer: dict[str, dict[str, float]]
    if "peers" in parts:
        print("\n== peers")
        import peers

        peer = peers.main(QUICK_ARGS["peers"] if a.quick else [])
    else:
        peer = load(results, "peers")[0]  # type: ignore[assignment]
    throughput = set(parts) & {*SCRIPTS, "peers"}
    if throughput:
        meta["throughput"] = (
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, in {time.time() - t0:.0f} s. "
            "Rates are per second; ratio = honker-py / bare sqlite3 in the same run."
        )
    rows: list[dict[str, object]] = []
    for name in SCRIPTS:
        rows += ran[name] if name in ran else load(results, SAVED_AS.get(name, name))
    for r in rows:
        for name, figures in peer.items():
            if r["figure"] in figures:
                r[name] = figures[r["figure"]]

    wake_runs = []
    for gap, samples, extra in WAKE_RUNS:
        name = wake_name(gap)
        if "wake" in parts:
            print(f"\n== wake, jobs {gap.replace(',', '-')} ms apart")
            import wake

            t1 = time.time()
            wake.main(wake_argv(gap, samples, extra, a.quick))
            meta[name] = (
                f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, in {time.time() - t1:.0f} s."
            )
        wake_runs.append((gap, meta.get(name, "(date not recorded)"), load(results, name)))

    print("\n== summary")
    print_rows(rows)
    (results / "all.json").write_text(json.dumps(rows, indent=2) + "\n")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    lines = [
        meta.get("throughput", "(date not recorded)"),
        "",
        "| figure | honker-py | bare sqlite3, same SQL | ratio | ideal queue | ratio | "
        "honker (Rust) | Huey | persist-queue | litequeue |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [
            f"{r[k]:,.0f}" if isinstance(r.get(k), int | float) else "–"
            for k in ("honker_native", "huey", "persist_queue", "litequeue")
        ]
        ideal = r.get("ideal_sqlite3")
        ideal_cells = (
            f"{ideal:,.0f} | {r['ratio_ideal']:.2f}×" if isinstance(ideal, int | float) else "– | –"
        )
        lines.append(
            f"| {r['figure']} | {r['honker_py']:,.0f} | {r['bare_sqlite3']:,.0f} | {r['ratio']:.2f}× | "
            + ideal_cells
            + " | "
            + " | ".join(cells)
            + " |"
        )
    latency = [r for r in rows if "latency_ms" in r]
    if latency:
        lines += [
            "",
            "Mean enqueue → ack latency in the fixed-window end-to-end runs (it grows with the "
            "backlog a flat-out producer builds, so compare within a run):",
            "",
            "| consumer | honker-py ms | same SQL ms | ideal queue ms |",
            "|---|---:|---:|---:|",
        ]
        for r in latency:
            lines.append(
                f"| {r['figure']} | {r['latency_ms']:,.0f} | {r['bare_latency_ms']:,.0f} | "
                f"{r['ideal_latency_ms']:,.0f} |"
            )
    lines += ["", *wake_lines(wake_runs)]
    (results / "summary.md").write_text("\n".join(lines) + "\n")
    wrote = [results / "summary.md"]
    if throughput and chart(rows, results / "chart.png"):
        wrote.append(results / "chart.png")
    print(f"\nwrote {' and '.join(map(str, wrote))}")


if __name__ == "__main__":
    main()
