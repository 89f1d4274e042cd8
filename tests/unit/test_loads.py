"""``honker._marshal.loads`` decodes exactly as ``json.loads``: same value, same error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from honker._marshal import loads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


def outcome(fn: Any, text: Any) -> tuple[str, Any]:
    try:
        value = fn(text)
    except Exception as exc:  # noqa: BLE001  the exception is the outcome compared
        return type(exc).__name__, str(exc)
    return "ok", json.dumps(value)  # NaN-safe comparison (nan != nan)


@given(JSON, st.sampled_from(["", " ", "\n", "\ufeff", "x", "]", " 1"]), st.booleans())
def test_same_as_json_loads(value: Any, affix: str, before: bool) -> None:
    text = json.dumps(value)
    for candidate in (text, affix + text if before else text + affix):
        assert outcome(loads, candidate) == outcome(json.loads, candidate)


@given(st.text(max_size=20))
def test_same_as_json_loads_on_any_text(text: str) -> None:
    assert outcome(loads, text) == outcome(json.loads, text)


@pytest.mark.parametrize(
    "text", ["", "  ", "NaN", "-Infinity", "1e400", '"\\ud800"', "[1,", "1 2", b'{"a": 1}', None]
)
def test_edge_cases(text: Any) -> None:
    assert outcome(loads, text) == outcome(json.loads, text)
