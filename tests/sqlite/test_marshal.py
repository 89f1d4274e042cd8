"""SQL parameter marshaling, row materialization and error types
(docs/spec/python-api.md §6, sharp edge 22). Every rule is checked on both db.query
(readers) and tx.query (writer), which share one implementation."""

from __future__ import annotations

import datetime
import enum
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import honker
from honker._errors import DatabaseError, HonkerError

Runner = Callable[..., list[dict[str, Any]]]


@pytest.fixture(params=["db.query", "tx.query"])
def run(request: pytest.FixtureRequest, db: honker.Database) -> Runner:
    if request.param == "db.query":
        return db.query

    def in_tx(sql: str, params: object = None) -> list[dict[str, Any]]:
        with db.transaction() as tx:
            return tx.query(sql, params)

    return in_tx


def _typed(run: Runner, value: object) -> tuple[object, str]:
    (row,) = run("SELECT ? AS v, typeof(?) AS t", [value, value])
    return row["v"], row["t"]


# -- the params object --------------------------------------------------------


def test_dict_params(run: Runner) -> None:
    with pytest.raises(TypeError) as info:
        run("SELECT ?", {"a": 1})
    assert str(info.value) == "SQL params must be a positional sequence, not a dict"


@pytest.mark.parametrize("params", ["ab", b"ab"])
def test_str_or_bytes_params(run: Runner, params: object) -> None:
    with pytest.raises(TypeError) as info:
        run("SELECT ?, ?", params)
    assert str(info.value) == "SQL params must be a sequence of values, not a string or bytes"


def test_non_iterable_params(run: Runner) -> None:
    with pytest.raises(TypeError):
        run("SELECT ?", 5)


@pytest.mark.parametrize(
    "make",
    [lambda: [1, 2], lambda: (1, 2), lambda: (x for x in (1, 2)), lambda: iter([1, 2]),
     lambda: range(1, 3)],
    ids=["list", "tuple", "generator", "iterator", "range"],
)  # fmt: skip
def test_any_iterable_works(run: Runner, make: Callable[[], object]) -> None:
    assert run("SELECT ? AS a, ? AS b", make()) == [{"a": 1, "b": 2}]


def test_no_params(run: Runner) -> None:
    assert run("SELECT 1 AS a") == [{"a": 1}]
    assert run("SELECT 1 AS a", None) == [{"a": 1}]
    assert run("SELECT 1 AS a", []) == [{"a": 1}]


@pytest.mark.parametrize("params", [[], [1, 2, 3]])
def test_wrong_parameter_count(run: Runner, params: list[int]) -> None:
    with pytest.raises(RuntimeError) as info:
        run("SELECT ?, ?", params)
    assert isinstance(info.value, HonkerError)


# -- values -------------------------------------------------------------------


class Colour(enum.IntEnum):
    RED = 7


@pytest.mark.parametrize(
    ("value", "expected", "sql_type"),
    [
        (None, None, "null"),
        (True, 1, "integer"),
        (False, 0, "integer"),
        (2**63 - 1, 2**63 - 1, "integer"),
        (-(2**63), -(2**63), "integer"),
        (2**63, float(2**63), "real"),
        (-(2**63) - 1, float(-(2**63) - 1), "real"),
        (Colour.RED, 7, "integer"),
        (1.5, 1.5, "real"),
        (Decimal("1.25"), 1.25, "real"),
        (Fraction(1, 4), 0.25, "real"),
        ("héllo", "héllo", "text"),
        (b"\x00\xff", b"\x00\xff", "blob"),
    ],
)
def test_value_conversion(run: Runner, value: object, expected: object, sql_type: str) -> None:
    got, typ = _typed(run, value)
    assert typ == sql_type
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (bytearray(b"x"), "bytearray"),
        (memoryview(b"x"), "memoryview"),
        (object(), "object"),
        (datetime.datetime(2024, 1, 1), "datetime"),
        ([1], "list"),
        ({"a": 1}, "dict"),
    ],
)
def test_unsupported_values(run: Runner, value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        run("SELECT ?", [value])
    assert str(info.value) == f"unsupported SQL parameter type: {type_name}"


def test_tx_execute_marshals_the_same_way(db: honker.Database) -> None:
    with db.transaction() as tx:
        tx.execute("CREATE TABLE t (a, b, c)")
        tx.execute("INSERT INTO t VALUES (?, ?, ?)", (x for x in (True, 2**64, Decimal("2"))))
        with pytest.raises(TypeError, match=r"^unsupported SQL parameter type: bytearray$"):
            tx.execute("INSERT INTO t VALUES (?, ?, ?)", [1, 2, bytearray()])
        with pytest.raises(TypeError, match=r"not a dict$"):
            tx.execute("INSERT INTO t VALUES (?, ?, ?)", {"a": 1})
    assert db.query("SELECT a, typeof(b) AS tb, c FROM t") == [{"a": 1, "tb": "real", "c": 2.0}]


# -- rows -----------------------------------------------------------------------


def test_rows_are_dicts_with_python_types(run: Runner) -> None:
    assert run("SELECT NULL AS n, 1 AS i, 1.5 AS r, 'x' AS t, x'01' AS b") == [
        {"n": None, "i": 1, "r": 1.5, "t": "x", "b": b"\x01"}
    ]


def test_duplicate_column_names_last_wins(run: Runner) -> None:
    assert run("SELECT 1 AS a, 2 AS a") == [{"a": 2}]


def test_booleans_do_not_round_trip(run: Runner) -> None:
    assert run("SELECT ? AS b", [True]) == [{"b": 1}]


def test_invalid_utf8_text_becomes_empty(run: Runner) -> None:
    assert run("SELECT CAST(x'ff00fe' AS TEXT) AS t, 'ok' AS u") == [{"t": "", "u": "ok"}]


def test_no_rows(run: Runner) -> None:
    assert run("SELECT 1 WHERE 0") == []


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM no_such_table", "no such table: no_such_table"),
        ("SELECT no_such_function()", "no such function: no_such_function"),
        ("SELEKT 1", 'near "SELEKT": syntax error'),
        ("INSERT INTO _honker_locks (name) VALUES ('x')", "NOT NULL constraint failed"),
    ],
)
def test_sqlite_errors_are_runtime_errors(run: Runner, sql: str, message: str) -> None:
    with pytest.raises(RuntimeError) as info:
        run(sql)
    err = info.value
    assert message in str(err)
    assert isinstance(err, honker.HonkerError)
    assert isinstance(err, DatabaseError)
    assert not isinstance(err, sqlite3.Error)


# -- property: scalar values round-trip exactly -----------------------------------

_scalars = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(exclude_categories=("Cs",))),
    st.binary(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(_scalars, min_size=1, max_size=5))
def test_scalars_round_trip(db: honker.Database, values: list[object]) -> None:
    sql = "SELECT " + ", ".join(f"? AS c{i}" for i in range(len(values)))
    (row,) = db.query(sql, values)
    assert list(row.values()) == values
