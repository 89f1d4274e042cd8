"""Schedule-expression grammar: parsing and "next fire after" (docs/spec/engine.md §6).

Pure functions over integers: no clock reads, no I/O. The only process state
consulted is the local time zone (``TZ`` / ``/etc/localtime``, as seen by
:func:`time.localtime`), because honker evaluates calendar schedules in local
time.

Forms (after trimming surrounding whitespace):

* ``@every <n><unit>`` with unit ``s``, ``m``, ``h`` or ``d``: plain addition.
* five fields ``minute hour day-of-month month day-of-week`` (second = 0).
* six fields ``second minute hour day-of-month month day-of-week``.

Error messages are honker's (Rust ``honker-core/src/cron.rs``) word for word,
including Rust's ``{:?}`` quoting of strings, so that text compared across
bindings or stored by users stays the same.
"""

from __future__ import annotations

import functools
import operator
import time
import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

from .._errors import ScheduleError
from .._marshal import I64_MAX, I64_MIN

__all__ = [
    "CalendarSchedule",
    "CronField",
    "IntervalSchedule",
    "Schedule",
    "next_after",
    "parse",
]

_U32_MAX = 2**32 - 1

# chrono 0.4.45's NaiveDate spans years -262143..=262142 (its MIN/MAX keep a
# year of margin for offsets); a timestamp whose local date is outside that is
# "invalid timestamp" in honker, so the same bound applies here even though
# libc could go further. Proven against honker's engine by
# tests/sqlite/interop/test_interop_functions.py::test_cron_timestamp_range_matches_chrono.
_CHRONO_MIN_YEAR = -262143
_CHRONO_MAX_YEAR = 262142

_SEARCH_YEARS = 100

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Rust's char::is_whitespace (Unicode White_Space). Python's str.split() and
# str.strip() also treat U+001C..U+001F as whitespace, which Rust does not, so
# trimming and splitting use this set instead.
_RUST_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# Other_Grapheme_Extend (Unicode PropList). Together with categories Mn and Me
# this is the Grapheme_Extend property, which Rust's str Debug escapes.
_OTHER_GRAPHEME_EXTEND: tuple[tuple[int, int], ...] = (
    (0x09BE, 0x09BE), (0x09D7, 0x09D7), (0x0B3E, 0x0B3E), (0x0B57, 0x0B57),
    (0x0BBE, 0x0BBE), (0x0BD7, 0x0BD7), (0x0CC2, 0x0CC2), (0x0CD5, 0x0CD6),
    (0x0D3E, 0x0D3E), (0x0D57, 0x0D57), (0x0DCF, 0x0DCF), (0x0DDF, 0x0DDF),
    (0x1B35, 0x1B35), (0x200C, 0x200C), (0x302E, 0x302F), (0xFF9E, 0xFF9F),
    (0x1133E, 0x1133E), (0x11357, 0x11357), (0x114B0, 0x114B0),
    (0x114BD, 0x114BD), (0x115AF, 0x115AF), (0x11930, 0x11930),
    (0x1D165, 0x1D165), (0x1D16E, 0x1D172), (0xE0020, 0xE007F),
)  # fmt: skip

_SIMPLE_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}


def _rust_debug_str(s: str) -> str:
    """Format ``s`` the way Rust's ``format!("{:?}", s)`` does for a ``&str``.

    Semantics:
    - Double-quoted; ``\\0 \\t \\r \\n \\\\ \\"`` get backslash escapes, the
      single quote does not.
    - Grapheme-extending characters (combining marks) and non-printable ones
      (categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs other than the space) become
      ``\\u{hex}`` with lowercase hex and no padding; everything else is kept.
    - Matches Rust up to differences in the Unicode version of the tables.
    """
    out = ['"']
    for ch in s:
        simple = _SIMPLE_ESCAPES.get(ch)
        if simple is not None:
            out.append(simple)
        elif " " <= ch <= "~":
            out.append(ch)
        elif _is_grapheme_extend(ch) or not ch.isprintable():
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _is_grapheme_extend(ch: str) -> bool:
    if unicodedata.category(ch) in ("Mn", "Me"):
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _OTHER_GRAPHEME_EXTEND)


def _rust_trim(s: str) -> str:
    start, end = 0, len(s)
    while start < end and s[start] in _RUST_WHITESPACE:
        start += 1
    while end > start and s[end - 1] in _RUST_WHITESPACE:
        end -= 1
    return s[start:end]


def _rust_split_whitespace(s: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for ch in s:
        if ch in _RUST_WHITESPACE:
            if current:
                parts.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        parts.append("".join(current))
    return parts


def _is_ascii_digits(s: str) -> bool:
    # str.isdigit() would also accept non-ASCII digits such as "٣", which
    # Rust's integer parsing rejects.
    return bool(s) and all("0" <= c <= "9" for c in s)


def _parse_u32(s: str) -> int | None:
    """Parse like Rust ``s.parse::<u32>()``; ``None`` where Rust returns Err.

    Semantics:
    - One optional leading ``+``, then one or more ASCII digits; no other
      sign, whitespace or ``_``.
    - Values above 4294967295 overflow (an error); leading zeros are fine.
    """
    digits = s[1:] if s.startswith("+") else s
    if not _is_ascii_digits(digits):
        return None
    # Stripping zeros first keeps int() away from its digit-count limit on
    # absurd inputs while preserving Rust's "leading zeros never overflow".
    significant = digits.lstrip("0")
    if len(significant) > 10:
        return None
    value = int(significant or "0")
    return value if value <= _U32_MAX else None


# ---------------------------------------------------------------------------
# Parsed forms


@dataclass(frozen=True, slots=True)
class CronField:
    """The set of values one calendar field allows, with jump tables.

    Semantics:
    - ``values`` is sorted and non-empty; ``lo``/``hi`` are the field's range.
    - ``next_at[v]`` is the smallest allowed value ``>= v`` or ``-1``; the
      table has entries up to ``hi + 1`` so a carry (``v = hi + 1``) needs no
      bounds check.
    """

    lo: int
    hi: int
    values: tuple[int, ...]
    allowed: tuple[bool, ...]
    next_at: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.values[0]

    @classmethod
    def from_values(cls, lo: int, hi: int, values: set[int]) -> CronField:
        allowed = tuple(v in values for v in range(hi + 2))
        next_at = [-1] * (hi + 2)
        following = -1
        for v in range(hi, -1, -1):
            if allowed[v]:
                following = v
            next_at[v] = following
        return cls(lo, hi, tuple(sorted(values)), allowed, tuple(next_at))


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """An ``@every <n><unit>`` schedule: fires every ``seconds`` after ``from``.

    Semantics:
    - No clock alignment and no time zone: the next fire is ``from + seconds``.
    """

    expr: str
    seconds: int

    def next_after(self, from_unix: int) -> int:
        """Return ``from_unix + seconds``.

        Raises:
            ScheduleError: the sum leaves the signed 64-bit range.
        """
        result = from_unix + self.seconds
        if not I64_MIN <= result <= I64_MAX:
            raise ScheduleError(
                f"next interval overflows unix timestamp for {_rust_debug_str(self.expr)}"
            )
        return result


@dataclass(frozen=True, slots=True)
class CalendarSchedule:
    """A five- or six-field cron schedule evaluated in local time.

    Semantics:
    - A local date matches only if its day of month is in ``dom`` **and** its
      weekday (Sunday = 0) is in ``dow``, unlike Vixie cron's OR.
    - Five-field expressions have ``second.values == (0,)``.
    """

    expr: str
    second: CronField
    minute: CronField
    hour: CronField
    dom: CronField
    month: CronField
    dow: CronField

    def next_after(self, from_unix: int) -> int:
        """Return the earliest instant strictly after ``from_unix`` that matches.

        Semantics:
        - The search runs on the local wall clock: it starts at the local
          time of ``from_unix`` plus one second and finds the first local
          date-time whose fields all match, giving up after the starting
          year + 100.
        - That wall-clock time is then mapped back to an instant. If it falls
          in a DST gap it does not exist, and the result is the first instant
          after the gap, whether or not that instant matches.
        - If it is ambiguous (DST overlap) the later instant (standard time)
          is used, as chrono's ``Local`` does in honker.

        Raises:
            ScheduleError: nothing matches within 100 years, or the timestamp
                is outside the representable range.
        """
        _check_timestamp(from_unix)
        try:
            from_local = from_unix + time.localtime(from_unix).tm_gmtoff
        except (OverflowError, OSError, ValueError):
            raise ScheduleError(f"invalid timestamp: {from_unix}") from None
        if not _CHRONO_MIN_YEAR <= _civil_from_days(from_local // 86400)[0] <= _CHRONO_MAX_YEAR:
            raise ScheduleError(f"invalid timestamp: {from_unix}")
        found = self._first_local_match(from_local + 1)
        if found is None:
            raise ScheduleError(
                "no schedule match found within 100 years after local datetime "
                + _chrono_debug_naive(from_local)
            )
        try:
            return _local_to_unix(found)
        except (OverflowError, OSError, ValueError):
            raise ScheduleError(
                f"no valid local schedule match found within 100 years after "
                f"unix_ts={from_unix}: {_rust_debug_str(self.expr)}"
            ) from None

    def _first_local_match(self, start: int) -> int | None:
        """Return the first local wall-clock second ``>= start`` that matches.

        Semantics:
        - Both argument and result count seconds of the naive local calendar
          from 1970-01-01T00:00:00 (no time zone, every day 86400 s).
        - Walks field by field from the month down, jumping to the next
          allowed value and resetting the lower fields; a field that runs out
          carries into the next larger one. Every step moves forward, so the
          first full match is the earliest one.
        - Returns ``None`` once the year passes the starting year + 100.
        """
        month, hour, minute, second = self.month, self.hour, self.minute, self.second
        days, sod = divmod(start, 86400)
        y, mo, d = _civil_from_days(days)
        h, rest = divmod(sod, 3600)
        mi, s = divmod(rest, 60)
        last_year = y + _SEARCH_YEARS
        while True:
            if y > last_year:
                return None
            m_next = month.next_at[mo]
            if m_next != mo:
                if m_next < 0:
                    y += 1
                    mo = month.first
                else:
                    mo = m_next
                d, h, mi, s = 1, hour.first, minute.first, second.first
                continue
            d_next = self._next_day(y, mo, d)
            if d_next != d:
                if d_next < 0:
                    mo += 1
                    if mo > 12:
                        y += 1
                        mo = 1
                    d, h, mi, s = 1, hour.first, minute.first, second.first
                    continue
                d, h, mi, s = d_next, hour.first, minute.first, second.first
            h_next = hour.next_at[h]
            if h_next != h:
                if h_next < 0:
                    d, h, mi, s = d + 1, hour.first, minute.first, second.first
                    continue
                h, mi, s = h_next, minute.first, second.first
            mi_next = minute.next_at[mi]
            if mi_next != mi:
                if mi_next < 0:
                    h, mi, s = h + 1, minute.first, second.first
                    continue
                mi, s = mi_next, second.first
            s_next = second.next_at[s]
            if s_next != s:
                if s_next < 0:
                    mi, s = mi + 1, second.first
                    continue
                s = s_next
            return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s

    def _next_day(self, y: int, mo: int, d: int) -> int:
        """Smallest day ``>= d`` in month ``mo`` of ``y`` matching dom and dow, or -1."""
        last = _days_in_month(y, mo)
        if d > last:
            return -1
        dom_ok, dow_ok = self.dom.allowed, self.dow.allowed
        weekday = (_days_from_civil(y, mo, d) + 4) % 7  # 1970-01-01 was a Thursday
        for day in range(d, last + 1):
            if dom_ok[day] and dow_ok[weekday]:
                return day
            weekday = (weekday + 1) % 7
        return -1


Schedule: TypeAlias = IntervalSchedule | CalendarSchedule


# ---------------------------------------------------------------------------
# Parsing


@functools.lru_cache(maxsize=256)
def parse(expr: str) -> Schedule:
    """Parse a schedule expression once; the result is cached per string.

    Semantics:
    - Accepts exactly honker's grammar (docs/spec/engine.md §6.1-6.2): ``@every``,
      five or six fields; numbers as Rust ``u32``; ``A/S`` means ``{A}``;
      day-of-week 0-6 with Sunday = 0 (``7`` is rejected).
    - Parsing does not look for a match: ``0 0 31 2 *`` parses, and only
      :func:`next_after` reports that it never fires.
    - Errors are not cached, so a bad expression is re-parsed on each call.

    Raises:
        ScheduleError: with honker's message for the first problem found.

    Example::

        >>> parse("*/15 * * * *").minute.values
        (0, 15, 30, 45)
    """
    trimmed = _rust_trim(expr)
    if trimmed.startswith("@every"):
        return IntervalSchedule(expr, _parse_interval(trimmed[len("@every") :]))
    fields = _rust_split_whitespace(trimmed)
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        raise ScheduleError(
            "schedule expression requires 5 or 6 cron fields, or '@every <n><unit>'; "
            f"got {len(fields)}: {_rust_debug_str(trimmed)}"
        )
    return CalendarSchedule(
        expr,
        second=_parse_field(fields[0], 0, 59),
        minute=_parse_field(fields[1], 0, 59),
        hour=_parse_field(fields[2], 0, 23),
        dom=_parse_field(fields[3], 1, 31),
        month=_parse_field(fields[4], 1, 12),
        dow=_parse_field(fields[5], 0, 6),
    )


def _parse_interval(rest: str) -> int:
    """Return the interval in seconds for the text after ``@every``."""
    body = _rust_trim(rest)
    if not body:
        raise ScheduleError("interval expression must be '@every <n><unit>'")
    end = 0
    while end < len(body) and "0" <= body[end] <= "9":
        end += 1
    if end == 0 or end == len(body):
        raise ScheduleError(
            f"interval expression must be '@every <n><unit>'; got {_rust_debug_str(body)}"
        )
    significant = body[:end].lstrip("0")
    # honker parses the count as i64; only digits are present, so the sole
    # failure is overflow (checked on length first to keep int() cheap).
    count = int(significant or "0") if len(significant) <= 19 else I64_MAX + 1
    if count > I64_MAX:
        raise ScheduleError(f"interval count must be an integer: {_rust_debug_str(body)}")
    if count == 0:
        raise ScheduleError(f"interval count must be positive: {_rust_debug_str(body)}")
    unit = body[end:]
    multiplier = _UNIT_SECONDS.get(unit)
    if multiplier is None:
        raise ScheduleError(
            f"unsupported interval unit {_rust_debug_str(unit)}; expected one of s, m, h, d"
        )
    seconds = count * multiplier
    if seconds > I64_MAX:
        raise ScheduleError(f"interval is too large: {_rust_debug_str(body)}")
    return seconds


def _parse_field(text: str, lo: int, hi: int) -> CronField:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, lo, hi))
    return CronField.from_values(lo, hi, values)


def _parse_item(item: str, lo: int, hi: int) -> range:
    """Return the values one comma item selects.

    Semantics:
    - The step is parsed before the range, so ``x/0`` reports the step.
    - ``A/S`` is the range ``A..=A`` stepped, i.e. just ``{A}``.
    - Error messages quote the whole item, step included.
    """
    quoted = _rust_debug_str(item)
    range_part, slash, step_text = item.partition("/")
    step = 1
    if slash:
        parsed_step = _parse_u32(step_text)
        if parsed_step is None:
            raise ScheduleError(f"cron step must be a positive integer: {quoted}")
        if parsed_step == 0:
            raise ScheduleError(f"cron step must be positive: {quoted}")
        step = parsed_step
    if range_part == "*":
        start, end = lo, hi
    else:
        first, dash, last = range_part.partition("-")
        start_opt = _parse_u32(first)
        end_opt = _parse_u32(last) if dash else start_opt
        if start_opt is None or end_opt is None:
            raise ScheduleError(f"cron field {quoted} not an integer")
        start, end = start_opt, end_opt
        if start < lo or end > hi or start > end:
            raise ScheduleError(f"cron field {quoted} out of range [{lo},{hi}] or inverted")
    return range(start, end + 1, step)


# ---------------------------------------------------------------------------
# Evaluation


def next_after(expr: str, from_unix: int) -> int:
    """Return the next fire time of ``expr`` strictly after ``from_unix``.

    Semantics:
    - ``@every <n><unit>``: ``from_unix + n * unit`` exactly; no time zone.
    - Calendar forms are evaluated on the process's local wall clock (what
      :func:`time.localtime` uses, i.e. ``TZ`` or ``/etc/localtime``); see
      :meth:`CalendarSchedule.next_after` for the DST gap/overlap rules.
    - Second precision; the scheduler feeds each boundary back in as the
      next ``from_unix`` to catch up one boundary at a time.
    - Parsing is cached, so repeated calls with one expression are cheap.

    Raises:
        ScheduleError: (a ``ValueError``) with honker's message, for a bad
            expression, a schedule with no match within 100 years, or a
            result outside the signed 64-bit range.

    Example::

        >>> next_after("@every 10s", 1_700_000_000)
        1700000010
    """
    return parse(expr).next_after(operator.index(from_unix))


def _check_timestamp(from_unix: int) -> None:
    # honker takes an SQL INTEGER (i64); anything wider cannot reach it.
    if not I64_MIN <= from_unix <= I64_MAX:
        raise ScheduleError(f"invalid timestamp: {from_unix}")


def _utc_offset(unix: int) -> int:
    return time.localtime(unix).tm_gmtoff


def _local_to_unix(local: int) -> int:
    """Map a naive local second to an instant, with honker's DST rules.

    Semantics:
    - Several instants can show the same wall-clock time (fall back): the
      latest one is returned.
    - None can (spring forward gap): honker steps the wall clock forward one
      second at a time until it exists; the first existing wall-clock time
      after a gap is the local time of the transition instant, so that
      instant is returned (found by bisection instead of stepping).
    """
    offsets = {_utc_offset(local + probe) for probe in (-86400, 0, 86400)}
    # The offsets in force within a day either side are the only candidates;
    # feed each candidate's own offset back in case a transition was skipped.
    offsets |= {_utc_offset(local - o) for o in offsets}
    matches = [local - o for o in offsets if _utc_offset(local - o) == o]
    if matches:
        return max(matches)
    lo, hi = local - max(offsets), local - min(offsets)
    # Invariant: the wall clock at lo is before `local` and at hi is not.
    if lo + _utc_offset(lo) >= local or hi + _utc_offset(hi) < local:
        return _step_out_of_gap(local)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid + _utc_offset(mid) < local:
            lo = mid
        else:
            hi = mid
    return hi


def _step_out_of_gap(local: int) -> int:
    # Literal form of honker's rule, for zones whose offsets change more than
    # once around `local` so the bisection's bracket does not hold. Gaps are
    # at most a day, so this ends after at most 86400 steps.
    for candidate in range(local + 1, local + 2 * 86400):
        offsets = {_utc_offset(candidate + probe) for probe in (-86400, 0, 86400)}
        matches = [candidate - o for o in offsets if _utc_offset(candidate - o) == o]
        if matches:
            return max(matches)
    raise ValueError("no existing local time within two days")


# ---------------------------------------------------------------------------
# Proleptic Gregorian calendar arithmetic (year 0 exists, as in chrono)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to y-m-d (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Inverse of :func:`_days_from_civil`."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _chrono_debug_naive(local: int) -> str:
    """Format a naive local second like chrono's ``NaiveDateTime`` Debug."""
    days, sod = divmod(local, 86400)
    y, m, d = _civil_from_days(days)
    h, rest = divmod(sod, 3600)
    mi, s = divmod(rest, 60)
    # chrono prints a sign and at least four digits outside 0..=9999 (ISO 8601).
    year = f"{y:04d}" if 0 <= y <= 9999 else f"{y:+05d}"
    return f"{year}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
