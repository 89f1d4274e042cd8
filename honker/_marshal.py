"""Values in: honker's marshaling rules for SQL parameters, payloads and numeric
options (docs/spec/python-api.md §6), and the limits they are checked against."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ._errors import ConfigError, InvalidTextError, OutOfRangeError, ParameterError

_dumps = json.dumps
# json.dumps(x) with default arguments ends in this C encoder; built once here
# and called directly it skips dumps' Python layers (a new encoder object and
# closure per call): a third of a small payload's cost on a process waking
# from idle (docs/performance.md). Built without circular-reference markers
# (their dict would be shared between threads), so a circular payload raises
# RecursionError and is handed to json.dumps for its own error.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode_chunks = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None,  # no markers: see above
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ": ",
        ", ",
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
)

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
# Durations are added to (or subtracted from) SQLite's clock, unixepoch(),
# and the sum is stored as a 64-bit INTEGER. The clock stays below
# CLOCK_HORIZON_S until the year 2242, so a duration d with |d| <= DURATION_MAX
# keeps now ± d inside 64 bits; a larger one would wrap (honker's engine) or
# turn REAL (SQLite's arithmetic), storing a wrong time.
CLOCK_HORIZON_S = 2**33
DURATION_MAX = I64_MAX - CLOCK_HORIZON_S
_PLAIN = frozenset({str, float, bytes, type(None)})


def params(values: object) -> tuple[Any, ...] | list[Any]:
    """Check and convert user parameters to what sqlite3 binds.

    Semantics: ``None`` → NULL, ``bool`` → 0/1, ``bytes`` → BLOB, integers
    that fit in 64 bits → INTEGER (larger ones become REAL), ``str`` → TEXT,
    other float-convertible objects → REAL; anything else is a TypeError.
    """
    if values is None:
        return ()
    if isinstance(values, dict):
        raise ParameterError("SQL params must be a positional sequence, not a dict")
    if isinstance(values, str | bytes):
        raise ParameterError("SQL params must be a sequence of values, not a string or bytes")
    if type(values) is tuple or type(values) is list:
        seq: Iterable[Any] = values
        for v in seq:  # fast path: everything already bindable as is
            t = type(v)
            if t not in _PLAIN and not (t is int and I64_MIN <= v <= I64_MAX):
                break
        else:
            return values
    try:
        seq = iter(values)  # type: ignore[call-overload]
    except TypeError:
        raise ParameterError(
            f"SQL params must be a sequence of values, not {type(values).__name__}"
        ) from None
    return [_value(v) for v in seq]


def _value(v: Any) -> Any:
    t = type(v)
    if v is None or t is str or t is bytes or t is float:
        return v
    if t is bool:
        return int(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, bytearray | memoryview):
        raise ParameterError(f"unsupported SQL parameter type: {t.__name__}")
    if hasattr(v, "__index__"):
        i = v.__index__()
        return i if I64_MIN <= i <= I64_MAX else float(i)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"unsupported SQL parameter type: {t.__name__}") from None


def int_arg(name: str, value: Any, *, bounded: bool = True) -> int:
    """``int(value)`` for the numeric option ``name``, failing with a named error.

    Semantics: whatever ``int()`` accepts is accepted (``"5"``, ``5.9`` → 5),
    as in honker; the failures keep ``int()``'s builtin class but name the
    option: a wrong type is a :class:`ParameterError` (``TypeError``), a value
    ``int()`` rejects (``"x"``, NaN) a :class:`ConfigError` (``ValueError``),
    and infinity or an integer outside SQLite's 64 bits an
    :class:`OutOfRangeError` (``ValueError`` and ``OverflowError``);
    ``bounded=False`` lets integers beyond 64 bits through, for the options
    where honker gives them a meaning.
    """
    if type(value) is int and I64_MIN <= value <= I64_MAX:
        return value
    try:
        i = int(value)
    except TypeError:
        raise ParameterError(f"{name} must be an integer, got {type(value).__name__}") from None
    except OverflowError:
        raise OutOfRangeError(f"{name} must be a finite number, got {_short(value)}") from None
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {_short(value)}") from None
    if bounded and not I64_MIN <= i <= I64_MAX:
        raise OutOfRangeError(f"{name} must fit in 64 bits (|{name}| < 2**63), got {_short(i)}")
    return i


def duration_arg(name: str, value: Any) -> int:
    """``int(value)`` for a duration ``name`` that is added to the clock.

    Semantics: as :func:`int_arg`, and a duration whose sum with now would not
    fit in 64 bits (``|value| > DURATION_MAX``, about 2.9e11 years) raises
    :class:`OutOfRangeError` naming ``name``, before anything is written.
    The SQL functions keep honker's wrapping arithmetic; only the Python API
    checks (guarded by tests/conformance/test_durations.py).
    """
    if type(value) is int and -DURATION_MAX <= value <= DURATION_MAX:
        return value
    d = int_arg(name, value)
    if not -DURATION_MAX <= d <= DURATION_MAX:
        raise OutOfRangeError(
            f"{name} is out of range: now + {name} must fit in 64 bits "
            f"(|{name}| <= {DURATION_MAX}), got {_short(d)}"
        )
    return d


def str_arg(name: str, value: Any) -> str:
    """``value`` if it is a ``str``, else a :class:`ParameterError` naming ``name``."""
    if isinstance(value, str):
        return value
    raise ParameterError(f"{name} must be a str, got {type(value).__name__}")


def text_error(exc: UnicodeEncodeError, engine: str = "SQLite") -> InvalidTextError:
    """The named error for SQL text or a parameter that cannot be UTF-8 encoded."""
    bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else "?"
    return InvalidTextError(
        f"text holding a lone surrogate ({bad!r} at index {exc.start}) cannot be passed "
        f"to {engine}, whose text must be valid UTF-8"
    )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


UNSET: Any = object()  # "argument not given", where None means something
NOT_DECODED: Any = object()


def json_payload(payload: Any) -> str:
    """``json.dumps(payload)``, or a :class:`ParameterError` naming the problem
    (tests/unit/test_dumps.py: the same text and the same errors)."""
    try:
        if _encode_chunks is not None:
            try:
                return "".join(_encode_chunks(payload, 0))
            except RecursionError:
                pass  # circular, or nested too deep: json.dumps tells which
        return _dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"payload is not JSON-serialisable: {exc}") from None


# The C scanner json.loads itself ends in (set in JSONDecoder.__init__, not in typeshed).
_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: Any) -> Any:
    """``json.loads(text)``, same result and same errors, cheaper for the usual
    payload (a JSON value filling the whole string, as ``json.dumps`` writes it).

    ``json.loads`` checks for a BOM, matches leading and trailing whitespace with
    two regular expressions and goes through two Python frames before the C
    scanner runs: about half the cost of decoding a small payload. A string that
    is not one JSON value from its first to its last character (whitespace
    around it, a BOM, extra data, bad JSON) is handed to ``json.loads``, which
    decodes it or raises exactly as before.
    """
    if type(text) is str:
        try:
            value, end = _scan_once(text, 0)
        except (StopIteration, ValueError):
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)


class StrictPayload:
    """Mixin: a ``payload`` property decoded from ``_raw`` on first access.

    Strict, as honker's ``Job.payload`` and ``Event.payload``: empty or NULL
    text is None; text that is not JSON raises ``json.JSONDecodeError``.
    """

    __slots__ = ()
    _raw: str | None
    _payload: Any

    @property
    def payload(self) -> Any:
        """The decoded payload (``json.loads`` on first access, then cached)."""
        if self._payload is NOT_DECODED:
            self._payload = loads(self._raw) if self._raw else None
        return self._payload
