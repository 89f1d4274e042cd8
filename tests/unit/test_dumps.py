"""``honker._marshal.json_payload`` writes exactly what ``json.dumps`` writes
(honker stores ``json.dumps(payload)``), and fails where it fails."""

from __future__ import annotations

import enum
import json
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from honker._errors import ParameterError
from honker._marshal import json_payload

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from([float("nan"), float("inf"), -0.0, 2**70, "\x00\u2028é😀"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text() | st.integers() | st.booleans() | st.none(), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(JSON)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert json_payload(value) == json.dumps(value)


class Colour(enum.IntEnum):
    RED = 1


class Tagged(dict):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize(
    "value", [Colour.RED, Tagged(a=1), {1.5: "x", None: 2, True: 3}, "plain", 7, None, ()]
)
def test_subclasses_and_odd_keys_as_json_dumps(value: Any) -> None:
    assert json_payload(value) == json.dumps(value)


def test_the_same_errors_as_json_dumps() -> None:
    circular: list[Any] = []
    circular.append(circular)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    for bad in ({"x": object()}, {(1, 2): "tuple key"}, circular, {"a": {"b": circular}}):
        with pytest.raises(ParameterError) as caught:
            json_payload(bad)
        with pytest.raises((TypeError, ValueError)) as expected:
            json.dumps(bad)
        assert str(expected.value) in str(caught.value)
    with pytest.raises(RecursionError):
        json.dumps(deep)
    with pytest.raises(RecursionError):
        json_payload(deep)


def test_one_payload_from_many_threads_at_once() -> None:
    # The shared encoder keeps no per-call state: the same object encoded in
    # eight threads at once is never taken for a circular one.
    shared = {"items": [{"n": i, "tags": ["a", "b"]} for i in range(200)]}
    expected = json.dumps(shared)
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                results.append(json_payload(shared))
        except BaseException as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 1600 and set(results) == {expected}
