"""Schedule grammar and next-fire computation (docs/spec/engine.md §6, docs/spec/python-api.md
§15.1).

The table tests pin honker's exact messages and the [verified] examples; the
property tests compare :func:`honker.cron.expr.next_after` with a brute-force walk
over the local wall clock that converts through :mod:`zoneinfo`, so the two
sides share neither the search nor the local-time conversion.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from honker._errors import ScheduleError
from honker.cron.expr import (
    CalendarSchedule,
    IntervalSchedule,
    _local_to_unix,
    _parse_u32,
    _rust_debug_str,
    _step_out_of_gap,
    next_after,
    parse,
)

ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe")


def utc(text: str) -> int:
    """Unix seconds of an ISO date-time read as UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_tz(name: str | None) -> None:
    if name is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = name
    time.tzset()


@pytest.fixture
def local_zone(request: pytest.FixtureRequest) -> Iterator[ZoneInfo]:
    """Run the test with the process time zone set to ``request.param``."""
    saved = os.environ.get("TZ")
    _set_tz(request.param)
    try:
        yield ZoneInfo(request.param)
    finally:
        _set_tz(saved)


def in_zone(*names: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("local_zone", names, indirect=True)


# ---------------------------------------------------------------------------
# Exact error messages (docs/spec/engine.md §6.3)

ERRORS = [
    # field count
    ("", "schedule expression requires 5 or 6 cron fields, or '@every <n><unit>'; got 0: \"\""),
    (
        "  @hourly  ",
        "schedule expression requires 5 or 6 cron fields, or '@every <n><unit>'; "
        'got 1: "@hourly"',
    ),
    (
        "* * * *",
        "schedule expression requires 5 or 6 cron fields, or '@every <n><unit>'; "
        'got 4: "* * * *"',
    ),
    (
        "* * * * * * *",
        "schedule expression requires 5 or 6 cron fields, "
        "or '@every <n><unit>'; got 7: \"* * * * * * *\"",
    ),
    (
        '@EVERY 5s\t"',
        "schedule expression requires 5 or 6 cron fields, or '@every <n><unit>'; "
        'got 3: "@EVERY 5s\\t\\""',
    ),
    # steps
    ("*/x * * * *", 'cron step must be a positive integer: "*/x"'),
    ("*/ * * * *", 'cron step must be a positive integer: "*/"'),
    ("*/-1 * * * *", 'cron step must be a positive integer: "*/-1"'),
    ("*/4294967296 * * * *", 'cron step must be a positive integer: "*/4294967296"'),
    ("1/2/3 * * * *", 'cron step must be a positive integer: "1/2/3"'),
    ("*/0 * * * *", 'cron step must be positive: "*/0"'),
    ("5-9/+0 * * * *", 'cron step must be positive: "5-9/+0"'),
    # step is checked before the range, so the step error wins
    ("MON/0 * * * *", 'cron step must be positive: "MON/0"'),
    # non-integers: the whole comma item, step included, is quoted
    ("* * * * MON", 'cron field "MON" not an integer'),
    ("* * * JAN *", 'cron field "JAN" not an integer'),
    ("1,,2 * * * *", 'cron field "" not an integer'),
    ("1- * * * *", 'cron field "1-" not an integer'),
    ("-1 * * * *", 'cron field "-1" not an integer'),
    ("? * * * *", 'cron field "?" not an integer'),
    ("L * * * *", 'cron field "L" not an integer'),
    ("1-2-3 * * * *", 'cron field "1-2-3" not an integer'),
    ("x-5/2 * * * *", 'cron field "x-5/2" not an integer'),
    ("** * * * *", 'cron field "**" not an integer'),
    ("1_0 * * * *", 'cron field "1_0" not an integer'),
    ("++1 * * * *", 'cron field "++1" not an integer'),
    ("4294967296 * * * *", 'cron field "4294967296" not an integer'),
    # ranges
    ("60 * * * *", 'cron field "60" out of range [0,59] or inverted'),
    ("5-1 * * * *", 'cron field "5-1" out of range [0,59] or inverted'),
    ("* 24 * * *", 'cron field "24" out of range [0,23] or inverted'),
    ("* * 0 * *", 'cron field "0" out of range [1,31] or inverted'),
    ("* * 32 * *", 'cron field "32" out of range [1,31] or inverted'),
    ("* * * 0 *", 'cron field "0" out of range [1,12] or inverted'),
    ("* * * 13 *", 'cron field "13" out of range [1,12] or inverted'),
    ("* * * * 7", 'cron field "7" out of range [0,6] or inverted'),
    ("* * * * 5-7/2", 'cron field "5-7/2" out of range [0,6] or inverted'),
    ("60 * * * * *", 'cron field "60" out of range [0,59] or inverted'),
    ("4294967295 * * * *", 'cron field "4294967295" out of range [0,59] or inverted'),
    # @every
    ("@every", "interval expression must be '@every <n><unit>'"),
    ("  @every \t ", "interval expression must be '@every <n><unit>'"),
    ("@every -5s", "interval expression must be '@every <n><unit>'; got \"-5s\""),
    ("@every 5", "interval expression must be '@every <n><unit>'; got \"5\""),
    ("@every s", "interval expression must be '@every <n><unit>'; got \"s\""),
    ("@every +5s", "interval expression must be '@every <n><unit>'; got \"+5s\""),
    ("@everyday", "interval expression must be '@every <n><unit>'; got \"day\""),
    (
        "@every 9223372036854775808s",
        'interval count must be an integer: "9223372036854775808s"',
    ),
    ("@every 0s", 'interval count must be positive: "0s"'),
    ("@every 000m", 'interval count must be positive: "000m"'),
    ("@every 5 s", 'unsupported interval unit " s"; expected one of s, m, h, d'),
    ("@every 5S", 'unsupported interval unit "S"; expected one of s, m, h, d'),
    ("@every 5w", 'unsupported interval unit "w"; expected one of s, m, h, d'),
    ("@every 5sec", 'unsupported interval unit "sec"; expected one of s, m, h, d'),
    ("@every 5\u00a0s", 'unsupported interval unit "\\u{a0}s"; expected one of s, m, h, d'),
    (
        "@every 9223372036854775807m",
        'interval is too large: "9223372036854775807m"',
    ),
    ("@every 106751991167301d", 'interval is too large: "106751991167301d"'),
]


@in_zone("UTC")
@pytest.mark.parametrize(("expr", "message"), ERRORS)
def test_error_message(local_zone: ZoneInfo, expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        next_after(expr, 0)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_parse_reports_the_same_errors() -> None:
    with pytest.raises(ScheduleError, match=r'^cron field "7" out of range'):
        parse("* * * * 7")


@pytest.mark.parametrize(
    ("local_zone", "from_unix", "message"),
    [
        ("UTC", 0, "1970-01-01T00:00:00"),
        # `from` is the local time of from_unix itself, not one second later
        ("America/New_York", 0, "1969-12-31T19:00:00"),
        ("Europe/Berlin", utc("2026-03-29T00:59:59"), "2026-03-29T01:59:59"),
        ("UTC", utc("0005-06-07T08:09:10"), "0005-06-07T08:09:10"),
        ("UTC", utc("2024-01-01T00:00:00") - 1, "2023-12-31T23:59:59"),
    ],
    indirect=["local_zone"],
)
def test_no_match_within_100_years(local_zone: ZoneInfo, from_unix: int, message: str) -> None:
    for expr in ("0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 31 11 *"):
        with pytest.raises(ScheduleError) as info:
            next_after(expr, from_unix)
        assert str(info.value) == (
            f"no schedule match found within 100 years after local datetime {message}"
        )


@in_zone("UTC")
def test_chrono_debug_of_years_outside_four_digits(local_zone: ZoneInfo) -> None:
    year_10000 = utc("9999-12-31T23:59:59") + 1
    with pytest.raises(ScheduleError, match=r"after local datetime \+10000-01-01T00:00:00$"):
        next_after("0 0 31 2 *", year_10000)
    year_minus_1 = utc("0001-01-01T00:00:00") - 366 * 86400 - 365 * 86400
    with pytest.raises(ScheduleError, match=r"after local datetime -0001-01-01T00:00:00$"):
        next_after("0 0 31 2 *", year_minus_1)


def test_invalid_timestamp() -> None:
    with pytest.raises(ScheduleError, match=r"^invalid timestamp: 9223372036854775808$"):
        next_after("* * * * *", 2**63)
    with pytest.raises(ScheduleError, match=r"^invalid timestamp: 9000000000000000$"):
        next_after("* * * * *", 9_000_000_000_000_000)  # past chrono's year 262143


def test_interval_addition_overflow_quotes_the_expression() -> None:
    i64_max = 2**63 - 1
    assert next_after("@every 1s", i64_max - 1) == i64_max
    with pytest.raises(ScheduleError) as info:
        next_after(" @every 1s", i64_max)
    assert str(info.value) == 'next interval overflows unix timestamp for " @every 1s"'
    with pytest.raises(ScheduleError, match=r"^next interval overflows"):
        next_after("@every 1d", i64_max - 86399)


# ---------------------------------------------------------------------------
# Grammar details


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("5", 5),
        ("+5", 5),
        ("007", 7),
        ("+00000000000000000000042", 42),
        ("4294967295", 4294967295),
        ("4294967296", None),
        ("99999999999999999999", None),
        ("", None),
        ("+", None),
        ("++5", None),
        ("-0", None),
        ("-5", None),
        (" 5", None),
        ("5 ", None),
        ("5_0", None),
        ("0x5", None),
        ("\u0663", None),  # ARABIC-INDIC DIGIT THREE: a digit to Python, not to Rust
    ],
)
def test_parse_u32_matches_rust(text: str, value: int | None) -> None:
    assert _parse_u32(text) == value


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("5/15", (5,)),  # A/S means only A [verified]
        ("*/15", (0, 15, 30, 45)),
        ("*/1000", (0,)),
        ("10-20/5", (10, 15, 20)),
        ("10-22/5", (10, 15, 20)),
        ("59", (59,)),
        ("+5,05,5-5", (5,)),
        ("1,3-4,50-59/4", (1, 3, 4, 50, 54, 58)),
        ("*", tuple(range(60))),
    ],
)
def test_minute_field_values(field: str, values: tuple[int, ...]) -> None:
    schedule = parse(f"{field} * * * *")
    assert isinstance(schedule, CalendarSchedule)
    assert schedule.minute.values == values
    assert schedule.second.values == (0,)


def test_six_field_layout_and_dow_range() -> None:
    schedule = parse("1 2 3 4 5 6")
    assert isinstance(schedule, CalendarSchedule)
    got = [schedule.second, schedule.minute, schedule.hour, schedule.dom, schedule.month]
    assert [f.values for f in got] == [(1,), (2,), (3,), (4,), (5,)]
    assert schedule.dow.values == (6,)
    dow = parse("* * * * *")
    assert isinstance(dow, CalendarSchedule)
    assert dow.dow.values == (0, 1, 2, 3, 4, 5, 6)


def test_whitespace_is_rusts() -> None:
    # Any Unicode White_Space separates fields and is trimmed ...
    assert next_after("\u3000*\t*\n* \u00a0*\u2003*\u0085", 0) == 60
    # ... but U+001F is not whitespace in Rust (it is to Python's str.split)
    with pytest.raises(ScheduleError, match="got 1:"):
        next_after("*\x1f*\x1f*\x1f*\x1f*", 0)


def test_parse_is_cached() -> None:
    assert parse("*/5 * * * *") is parse("*/5 * * * *")
    assert isinstance(parse("@every 2m"), IntervalSchedule)


@pytest.mark.parametrize(
    ("text", "debug"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("\n\t\r\0", '"\\n\\t\\r\\0"'),
        ("it's", '"it\'s"'),
        ("\x01\x7f", '"\\u{1}\\u{7f}"'),
        ("caf\u00e9", '"caf\u00e9"'),
        ("e\u0301", '"e\\u{301}"'),  # combining acute: grapheme extend
        ("\u200b\u00a0 ", '"\\u{200b}\\u{a0} "'),
        ("\u65e5\U0001f600", '"\u65e5\U0001f600"'),
        ("\U000e0041", '"\\u{e0041}"'),
    ],
)
def test_rust_debug_str(text: str, debug: str) -> None:
    assert _rust_debug_str(text) == debug


# ---------------------------------------------------------------------------
# [verified] and spec examples (docs/spec/engine.md §6)


@in_zone("UTC")
def test_utc_examples(local_zone: ZoneInfo) -> None:
    # DOM AND DOW: the first 1st-of-month that is a Monday [verified]
    assert iso(next_after("0 0 1 * 1", 0)) == "1970-06-01T00:00:00Z"
    # Feb 29 exists [verified]
    assert iso(next_after("0 0 29 2 *", 0)) == "1972-02-29T00:00:00Z"
    # A/S means {A}: 5/15 fires at :05 only
    assert iso(next_after("5/15 * * * *", utc("2026-01-01T00:05:00"))) == "2026-01-01T01:05:00Z"
    # strictly after
    assert next_after("* * * * *", 0) == 60
    assert next_after("* * * * * *", 0) == 1
    assert next_after("0 0 * * *", 86400 - 1) == 86400
    assert next_after("0 0 * * *", 86400) == 2 * 86400
    # Sunday is 0; 1970-01-04 was a Sunday
    assert iso(next_after("0 12 * * 0", 0)) == "1970-01-04T12:00:00Z"
    # carries across month and year ends
    assert iso(next_after("59 23 31 12 *", utc("2026-12-31T23:59:00"))) == "2027-12-31T23:59:00Z"
    assert iso(next_after("0 0 31 * *", utc("2026-04-01T00:00:00"))) == "2026-05-31T00:00:00Z"
    # 2100 is not a leap year
    assert iso(next_after("0 0 29 2 *", utc("2096-03-01T00:00:00"))) == "2104-02-29T00:00:00Z"


@pytest.mark.parametrize(
    ("expr", "seconds"),
    [("@every5s", 5), ("@every 01s", 1), ("@every 10s", 10), ("@every 2m", 120),
     ("@every 3h", 10800), ("@every 1d", 86400), ("  @every\t7d \n", 7 * 86400)],
)  # fmt: skip
@in_zone("America/New_York")
def test_every_is_plain_addition(local_zone: ZoneInfo, expr: str, seconds: int) -> None:
    # Across the spring-forward gap too: no time zone is involved.
    from_unix = utc("2026-03-08T06:30:00")
    assert next_after(expr, from_unix) == from_unix + seconds
    assert next_after(expr, -from_unix) == -from_unix + seconds


@in_zone("America/New_York")
def test_new_york_spring_forward(local_zone: ZoneInfo) -> None:
    # 02:30 does not exist on 2026-03-08: fire at 03:00 EDT, not the next day [verified]
    assert iso(next_after("30 2 * * *", utc("2026-03-08T06:00:00"))) == "2026-03-08T07:00:00Z"
    # 01:59:59 EST + 1 s is 02:00:00, inside the gap: fire at 03:00:00 EDT
    assert iso(next_after("0 * * * * *", utc("2026-03-08T06:59:59"))) == "2026-03-08T07:00:00Z"
    # A gap result need not match the expression (03:00 is not :17)
    assert iso(next_after("17 2 * * *", utc("2026-03-08T06:00:00"))) == "2026-03-08T07:00:00Z"
    # The day after, 02:30 exists again
    assert iso(next_after("30 2 * * *", utc("2026-03-08T07:00:00"))) == "2026-03-09T06:30:00Z"


@in_zone("America/New_York")
def test_new_york_fall_back(local_zone: ZoneInfo) -> None:
    # Ambiguous 01:00 and 01:30 use the later (EST) instant [verified]
    fires = []
    t = utc("2026-11-01T04:00:00")
    for _ in range(4):
        t = next_after("*/30 * * * *", t)
        fires.append(iso(t))
    assert fires == [
        "2026-11-01T04:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T07:00:00Z",
    ]
    # From inside the first (EDT) pass, the wall clock moves on from 01:10
    assert iso(next_after("*/30 * * * *", utc("2026-11-01T05:10:00"))) == "2026-11-01T06:30:00Z"


@in_zone("Europe/Berlin")
def test_berlin_transitions(local_zone: ZoneInfo) -> None:
    # 02:30 does not exist on 2026-03-29: fire at 03:00 CEST
    assert iso(next_after("30 2 * * *", utc("2026-03-28T23:00:00"))) == "2026-03-29T01:00:00Z"
    # 2026-10-25: 02:30 CEST (00:30Z) is skipped for 02:30 CET (01:30Z)
    fires = []
    t = utc("2026-10-24T23:30:00")
    for _ in range(3):
        t = next_after("*/30 * * * *", t)
        fires.append(iso(t))
    assert fires == ["2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"]
    assert iso(next_after("30 2 * * *", utc("2026-10-24T12:00:00"))) == "2026-10-25T01:30:00Z"


@in_zone("America/New_York")
def test_gap_stepping_fallback_agrees_with_bisection(local_zone: ZoneInfo) -> None:
    naive = datetime(2026, 3, 8, 2, 30)
    local = int(naive.replace(tzinfo=UTC).timestamp())
    assert _local_to_unix(local) == _step_out_of_gap(local) == utc("2026-03-08T07:00:00")


def test_next_after_is_fast() -> None:
    # The scheduler calls this per boundary; a second-by-second search would
    # take seconds for a yearly schedule.
    start = time.perf_counter()
    for i in range(200):
        next_after("0 0 29 2 1", i * 86400)
        next_after("59 59 23 31 12 *", i * 86400)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------------------
# Property tests against a brute-force reference


@dataclass(frozen=True)
class Expr:
    text: str
    sets: tuple[frozenset[int], ...]  # second, minute, hour, dom, month, dow


def _number(value: int) -> st.SearchStrategy[str]:
    return st.sampled_from(["", "", "", "+", "0"]).map(lambda prefix: f"{prefix}{value}")


@st.composite
def _item(draw: st.DrawFn, lo: int, hi: int) -> tuple[str, frozenset[int]]:
    kind = draw(st.sampled_from(["*", "*/S", "A", "A-B", "A-B/S", "A/S"]))
    step = draw(st.integers(1, hi - lo + 3))
    a = draw(st.integers(lo, hi))
    b = draw(st.integers(a, hi))
    if kind == "*":
        return "*", frozenset(range(lo, hi + 1))
    if kind == "*/S":
        return f"*/{draw(_number(step))}", frozenset(range(lo, hi + 1, step))
    if kind == "A":
        return draw(_number(a)), frozenset({a})
    if kind == "A/S":
        return f"{draw(_number(a))}/{step}", frozenset({a})
    text = f"{draw(_number(a))}-{draw(_number(b))}"
    if kind == "A-B":
        return text, frozenset(range(a, b + 1))
    return f"{text}/{draw(_number(step))}", frozenset(range(a, b + 1, step))


def _field(lo: int, hi: int, star_weight: int) -> st.SearchStrategy[tuple[str, frozenset[int]]]:
    items = st.lists(_item(lo, hi), min_size=1, max_size=3).map(
        lambda parts: (",".join(p[0] for p in parts), frozenset().union(*(p[1] for p in parts)))
    )
    # Day-level fields are mostly "*" so most expressions fire within the
    # reference's horizon; the rest is filtered with assume().
    star = st.just(("*", frozenset(range(lo, hi + 1))))
    return st.one_of(*([star] * star_weight), items)


@st.composite
def calendar_exprs(draw: st.DrawFn) -> Expr:
    six = draw(st.booleans())
    second = draw(_field(0, 59, 0)) if six else ("", frozenset({0}))
    minute, hour = draw(_field(0, 59, 0)), draw(_field(0, 23, 1))
    dom, month, dow = draw(_field(1, 31, 2)), draw(_field(1, 12, 3)), draw(_field(0, 6, 2))
    fields = [minute, hour, dom, month, dow]
    if six:
        fields.insert(0, second)
    sep = draw(st.sampled_from([" ", "  ", "\t"]))
    text = sep.join(f[0] for f in fields)
    return Expr(text, (second[1], minute[1], hour[1], dom[1], month[1], dow[1]))


@functools.cache
def _transitions(zone: ZoneInfo, year: int) -> list[int]:
    """UTC instants in ``year`` where ``zone``'s offset changes."""
    start = utc(f"{year}-01-01T00:00:00")
    found = []
    previous = None
    for t in range(start, start + 366 * 86400, 1800):
        offset = datetime.fromtimestamp(t, zone).utcoffset()
        if previous is not None and offset != previous:
            lo, hi = t - 1800, t
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, zone).utcoffset() == previous:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        previous = offset
    return found


def instants(zone: ZoneInfo) -> st.SearchStrategy[int]:
    points = _transitions(zone, 2026) or _transitions(ZoneInfo("Europe/Berlin"), 2026)
    near = st.tuples(st.sampled_from(points), st.integers(-7200, 7200))
    around = st.tuples(st.sampled_from(points), st.integers(-3 * 86400, 3 * 86400))
    return st.one_of(
        near.map(sum),
        near.map(sum),
        around.map(sum),
        st.integers(utc("1900-01-01T00:00:00"), utc("2100-01-01T00:00:00")),
    )


def _to_unix_reference(naive: datetime, zone: ZoneInfo) -> int:
    """honker's conversion done the slow, literal way with zoneinfo."""
    while True:
        aware = naive.replace(tzinfo=zone, fold=1)  # fold=1: later of two instants
        unix = int(aware.timestamp())
        if datetime.fromtimestamp(unix, zone).replace(tzinfo=None) == naive:
            return unix
        naive += timedelta(seconds=1)  # in a gap: step until the time exists


def reference_next(expr: Expr, from_unix: int, zone: ZoneInfo, horizon_days: int) -> int | None:
    """Brute force: walk the local wall clock forward until every field matches.

    Whole days, hours and minutes that cannot match are skipped in one step of
    that unit (any second inside them fails the same test); otherwise it
    advances one second at a time.
    """
    seconds, minutes, hours, doms, months, dows = expr.sets
    naive = datetime.fromtimestamp(from_unix, zone).replace(tzinfo=None) + timedelta(seconds=1)
    horizon = naive + timedelta(days=horizon_days)
    while naive <= horizon:
        cron_weekday = (naive.weekday() + 1) % 7  # Python Monday=0, cron Sunday=0
        if naive.month not in months or naive.day not in doms or cron_weekday not in dows:
            naive = naive.replace(hour=0, minute=0, second=0) + timedelta(days=1)
        elif naive.hour not in hours:
            naive = naive.replace(minute=0, second=0) + timedelta(hours=1)
        elif naive.minute not in minutes:
            naive = naive.replace(second=0) + timedelta(minutes=1)
        elif naive.second not in seconds:
            naive += timedelta(seconds=1)
        else:
            return _to_unix_reference(naive, zone)
    return None


_ALL_DAYS = (frozenset(range(1, 32)), frozenset(range(1, 13)), frozenset(range(7)))

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    # The zone fixture is set once per test and is the same for every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@in_zone(*ZONES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_next_after_matches_brute_force(local_zone: ZoneInfo, data: st.DataObject) -> None:
    expr = data.draw(calendar_exprs(), label="expr")
    from_unix = data.draw(instants(local_zone), label="from_unix")
    expected = reference_next(expr, from_unix, local_zone, horizon_days=3 * 366)
    assume(expected is not None)
    assert expected is not None
    got = next_after(expr.text, from_unix)
    assert got > from_unix
    assert iso(got) == iso(expected)


@in_zone("America/New_York", "Europe/Berlin", "Australia/Lord_Howe")
@PROPERTY_SETTINGS
@given(data=st.data())
def test_catch_up_sequence_matches_brute_force(local_zone: ZoneInfo, data: st.DataObject) -> None:
    # The scheduler feeds each boundary back in; walk several boundaries
    # through the 2026 transitions with schedules that fire near them.
    minute = data.draw(_field(0, 59, 0), label="minute")
    hour = data.draw(st.sampled_from(["*", "0-4", "1,2,3", "2", "1-3/2"]), label="hour")
    expr = Expr(
        f"{minute[0]} {hour} * * *",
        (frozenset({0}), minute[1], _expand(hour, 0, 23), *_ALL_DAYS),
    )
    t = data.draw(instants(local_zone), label="from_unix")
    for _ in range(6):
        expected = reference_next(expr, t, local_zone, horizon_days=3)
        assert expected is not None
        t_next = next_after(expr.text, t)
        assert iso(t_next) == iso(expected)
        t = t_next


def _expand(field: str, lo: int, hi: int) -> frozenset[int]:
    """Values of the simple fixed hour fields used above."""
    values: set[int] = set()
    for item in field.split(","):
        body, _, step = item.partition("/")
        first, _, last = body.partition("-")
        if body == "*":
            a, b = lo, hi
        else:
            a, b = int(first), int(last or first)
        values.update(range(a, b + 1, int(step or 1)))
    return frozenset(values)


@given(
    from_unix=st.integers(-(2**62), 2**62),
    count=st.integers(1, 10**6),
    unit=st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]),
    space=st.sampled_from(["", " ", "\t "]),
)
def test_every_property(from_unix: int, count: int, unit: tuple[str, int], space: str) -> None:
    assert next_after(f"@every{space}{count}{unit[0]}", from_unix) == from_unix + count * unit[1]


@settings(max_examples=300, deadline=None)
@given(
    expr=st.one_of(
        st.text(max_size=30),
        st.text(alphabet="0123456789*/-,+ \tMONL?@everysmhd", max_size=30),
    ),
    from_unix=st.integers(-(2**40), 2**40),
)
def test_arbitrary_text_only_raises_schedule_error(expr: str, from_unix: int) -> None:
    try:
        result = next_after(expr, from_unix)
    except ScheduleError:
        return
    assert result > from_unix
