"""What each dashboard page shows, read from a :class:`honker.Database`.

Plain functions returning dicts for the templates; no web framework here, so
the pages' content is testable (and benchmarkable) on its own. Every read
goes through the database's pooled readers, which keep no read transaction
between calls: the dashboard never pins the WAL or blocks a writer.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, Any

from .. import _manage
from .. import _results as results

if TYPE_CHECKING:
    from .._database import Database

CHART_MINUTES = 60
CHART_HEIGHT = 36
BAR_WIDTH = 4
PAGE_SIZE = 50
PREVIEW_CHARS = 120
SERIES = ("completed", "retried", "failed")  # stacked bottom to top


def overview(db: Database) -> dict[str, Any]:
    """The overview: counts, locks, streams, schedules (one read transaction),
    plus each queue's throughput chart for the last hour."""
    data = db._read(lambda o: o.overview())
    for q in data["queues"]:
        q["chart"] = chart(_manage.throughput(db, q["queue"], CHART_MINUTES))
    return data


def chart(minutes: list[dict[str, int]]) -> dict[str, Any]:
    """SVG geometry for stacked per-minute bars (completed, retried, failed)."""
    top = max((sum(m[s] for s in SERIES) for m in minutes), default=0)
    scale = CHART_HEIGHT / top if top else 0.0
    bars = []
    for i, m in enumerate(minutes):
        y = float(CHART_HEIGHT)
        parts = []
        for series in SERIES:
            h = m[series] * scale
            if m[series]:
                h = max(h, 1.0)  # a single job still shows
                y -= h
                parts.append({"series": series, "y": round(y, 2), "h": round(h, 2)})
        label = (
            f"{clock(m['minute'])}: {m['completed']} completed, "
            f"{m['retried']} retried, {m['failed']} failed"
        )
        bars.append({"x": i * BAR_WIDTH, "parts": parts, "label": label})
    totals = {s: sum(m[s] for m in minutes) for s in SERIES}
    return {
        "bars": bars,
        "width": len(minutes) * BAR_WIDTH,
        "height": CHART_HEIGHT,
        "bar": BAR_WIDTH - 1,
        "peak": top,
        "totals": totals,
    }


def parse_where(text: str | None) -> dict[str, Any] | None:
    """The filter box: ``$.user_id=42 AND $.plan="pro"`` (terms joined by AND)."""
    if text is None or not text.strip():
        return None
    terms = [t for t in _split_and(text) if t.strip()]
    return dict(_manage.where_item(t) for t in terms)


def _split_and(text: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    quoted, i = False, 0
    while i < len(text):
        ch = text[i]
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        if not quoted and text[i : i + 5].upper() == " AND ":
            out.append("".join(buf))
            buf, i = [], i + 5
            continue
        buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


def queue_page(
    db: Database,
    name: str,
    state: str | None,
    after: int | None,
    where: dict[str, Any] | None,
    limit: int = PAGE_SIZE,
) -> dict[str, Any]:
    """One queue: its counts, pause flag and a keyset page of jobs."""
    q = db.queue(name)
    stats = q.stats()
    rows = q.jobs(state=state, limit=limit, after_id=after, where=where)
    for row in rows:
        row["preview"] = preview(row["payload"])
    match_count = None
    if where is not None and state == "dead":
        match_count = _manage.count_dead(db, name, None, where, None, None)
    return {
        "queue": name,
        "stats": stats,
        "rows": rows,
        "state": state,
        "after": after,
        "next_after": rows[-1]["id"] if len(rows) == limit else None,
        "match_count": match_count,
        "now": _now(db),
    }


def job_detail(db: Database, name: str, job_id: int) -> dict[str, Any] | None:
    """One job of ``name`` (live or dead) and its saved result; None if neither
    the job nor a result exists (acked jobs are deleted: only a result stays)."""
    rows = db.queue(name).jobs(limit=1, after_id=job_id - 1)
    job = rows[0] if rows and rows[0]["id"] == job_id else None
    found, value = results.get(db, job_id)
    if job is None and not found:
        return None
    if job is not None:
        job["payload_pretty"] = pretty(job["payload"])
    return {
        "queue": name,
        "id": job_id,
        "job": job,
        "has_result": found,
        "result": pretty(value) if found else None,
        "now": _now(db),
    }


def _now(db: Database) -> int:
    return int(db._read(lambda o: o.now()))


def preview(payload: Any) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def pretty(value: Any) -> str:
    """A decoded payload or result as indented JSON."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def clock(ts: int | None) -> str:
    """``HH:MM`` UTC."""
    if ts is None:
        return ""
    try:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%H:%M")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def absolute(ts: int | None) -> str:
    if ts is None:
        return ""
    try:
        when = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"unix {ts}"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(ts: int | None, now: int) -> str:
    """``5 s ago`` / ``in 3 min`` against the database clock."""
    if ts is None:
        return ""
    delta = ts - now
    text = duration(abs(delta))
    if delta == 0:
        return "now"
    return f"in {text}" if delta > 0 else f"{text} ago"


def duration(seconds: int | float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            whole, rest = divmod(s, size)
            if unit == "d" and whole >= 100_000:
                return f"{whole:,} d"
            sub = {"d": ("h", 3600), "h": ("min", 60), "min": ("s", 1)}[unit]
            part = rest // sub[1]
            return f"{whole} {unit} {part} {sub[0]}" if part else f"{whole} {unit}"
    return f"{s} s"
