"""Prometheus text exposition of a database's queues, streams and schedules.

``render(overview)`` turns the backend's overview (``Ops.overview``, or the
read-only inspector's) into the text format (version 0.0.4) with ``honker_``
names; ``honker metrics PATH`` prints it for node_exporter's textfile
collector, and the dashboard will serve it at ``/metrics``.

Metrics:
- gauges: ``honker_jobs{queue,state}`` (pending = due now, delayed,
  processing, dead), ``honker_dead_jobs{queue}``,
  ``honker_oldest_due_age_seconds{queue}``, ``honker_queue_paused{queue}``,
  ``honker_stream_consumer_lag{topic,consumer}``,
  ``honker_schedule_next_fire_timestamp_seconds{name,queue}``;
- counters (from the throughput history's all-time totals, counted by this
  package only): ``honker_jobs_completed_total``, ``honker_jobs_failed_total``,
  ``honker_jobs_retried_total`` per ``queue``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATES = ("pending", "delayed", "processing", "dead")


def _label(value: Any) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, Any], Any]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lines.append(f"{name}{_labels(**labels)} {value}")
    return lines


def render(overview: dict[str, Any]) -> str:
    """The Prometheus text for ``overview`` (see the module docstring)."""
    queues = overview["queues"]
    out: list[str] = []
    out += _family(
        "honker_jobs",
        "gauge",
        "Jobs by queue and state (pending = due now).",
        (({"queue": q["queue"], "state": s}, q[s]) for q in queues for s in STATES),
    )
    out += _family(
        "honker_dead_jobs",
        "gauge",
        "Jobs in the dead letters, by queue.",
        (({"queue": q["queue"]}, q["dead"]) for q in queues),
    )
    out += _family(
        "honker_oldest_due_age_seconds",
        "gauge",
        "How long the oldest due job has waited (0 when none is due).",
        (({"queue": q["queue"]}, q["oldest_due_age_s"] or 0) for q in queues),
    )
    out += _family(
        "honker_queue_paused",
        "gauge",
        "1 while the queue is paused.",
        (({"queue": q["queue"]}, int(q["paused"])) for q in queues),
    )
    for kind in ("completed", "failed", "retried"):
        out += _family(
            f"honker_jobs_{kind}_total",
            "counter",
            f"Jobs {kind} since the counters began (counted by honker-py).",
            (({"queue": q["queue"]}, q[kind]) for q in queues),
        )
    out += _family(
        "honker_stream_consumer_lag",
        "gauge",
        "Events after the consumer's saved offset (consumer '' : nobody consumes the topic).",
        (
            ({"topic": s["topic"], "consumer": s["consumer"] or ""}, s["lag"])
            for s in overview["streams"]
        ),
    )
    out += _family(
        "honker_schedule_next_fire_timestamp_seconds",
        "gauge",
        "Unix time of the schedule's next fire.",
        (
            ({"name": s["name"], "queue": s["queue"]}, s["next_fire_at"])
            for s in overview["schedules"]
        ),
    )
    return "\n".join(out) + "\n"
