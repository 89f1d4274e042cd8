"""Schedule values: CronSchedule, crontab(), every_s() (docs/spec/python-api.md §15.1,
sharp edge 26)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import honker
from honker._errors import HonkerError, ScheduleError
from honker.cron.expr import next_after
from honker.cron.schedule import CronSchedule, crontab, every_s


def test_cron_schedule_validates_with_the_parsers_message():
    with pytest.raises(ValueError, match=r"requires 5 or 6 cron fields.*got 1: \"bad\""):
        CronSchedule("bad")
    with pytest.raises(ScheduleError, match=r'cron field "60" out of range \[0,59\]'):
        CronSchedule("60 * * * *")
    with pytest.raises(ValueError, match="no schedule match found within 100 years"):
        CronSchedule("0 0 31 2 *")
    with pytest.raises(TypeError):
        CronSchedule(5)  # type: ignore[arg-type]


def test_cron_schedule_shape():
    s = CronSchedule("*/5 * * * *")
    assert s.expr == "*/5 * * * *"
    assert repr(s) == "crontab('*/5 * * * *')"
    assert repr(CronSchedule("@every 5m")) == "crontab('@every 5m')"  # intervals too
    assert CronSchedule.__slots__ == ("expr",)
    with pytest.raises(AttributeError):
        s.other = 1  # type: ignore[attr-defined]
    assert s != CronSchedule("*/5 * * * *")  # identity equality, as in honker


def test_next_after_returns_naive_local_datetime_strictly_after():
    s = crontab("0 * * * *")
    start = datetime(2026, 3, 1, 10, 0, 0)
    nxt = s.next_after(start)
    assert nxt.tzinfo is None
    assert nxt == datetime(2026, 3, 1, 11, 0, 0)  # strictly after a boundary
    assert s.next_after(start + timedelta(seconds=59, microseconds=999)) == nxt


@given(st.integers(min_value=0, max_value=4_000_000_000), st.integers(min_value=1, max_value=10**6))
def test_every_s_next_after_is_plain_addition(ts, n):
    s = every_s(n)
    assert next_after(s.expr, ts) == ts + n
    dt = datetime.fromtimestamp(ts)
    assert s.next_after(dt) == datetime.fromtimestamp(ts + n)


def test_crontab_rejects_interval_expressions():
    for expr in ("@every 5s", "  @every 1m", "@every5s"):
        with pytest.raises(ValueError, match=r"^use every_s\(\.\.\.\) for interval schedules$"):
            crontab(expr)
    assert crontab("0 3 * * *").expr == "0 3 * * *"
    assert CronSchedule("@every 5m").expr == "@every 5m"  # allowed directly


@pytest.mark.parametrize(
    ("given_", "expr"), [(30, "@every 30s"), (2.9, "@every 2s"), ("7", "@every 7s")]
)
def test_every_s(given_, expr):
    assert every_s(given_).expr == expr


@pytest.mark.parametrize("bad", [0, -1, 0.5])
def test_every_s_rejects_non_positive(bad):
    with pytest.raises(
        ValueError, match=r"^every_s\(seconds\) requires a positive integer$"
    ) as info:
        every_s(bad)
    assert isinstance(info.value, HonkerError)


def test_public_names_resolve():
    assert honker.CronSchedule is CronSchedule
    assert honker.crontab is crontab
    assert honker.every_s is every_s
