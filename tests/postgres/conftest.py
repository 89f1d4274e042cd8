"""Fixtures of the PostgreSQL-only tests: ``pg_url`` (a fresh schema of the
session's server, dropped at teardown) and ``db`` opened on it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import honker

_schemas = itertools.count()


@pytest.fixture
def admin(pg_server: Any) -> Iterator[psycopg.Connection[Any]]:
    """A plain psycopg connection to the test database (autocommit)."""
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def new_schema(pg_server: Any) -> Iterator[Callable[[], str]]:
    """``new_schema()``: a fresh schema name (dropped at teardown)."""
    made: list[str] = []

    def _new() -> str:
        made.append(f"p{os.getpid()}_{next(_schemas)}")
        return made[-1]

    yield _new
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        for schema in made:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def schema(new_schema: Callable[[], str]) -> str:
    return new_schema()


@pytest.fixture
def pg_url(pg_server: Any, schema: str) -> str:
    """A URL whose ``?schema=`` is fresh; the session's search_path starts with it too."""
    return str(pg_server.url(schema=schema, options=f"-csearch_path%3D{schema}"))


@pytest.fixture
def db_path(pg_url: str) -> str:
    return pg_url


@pytest.fixture
def db(open_db: Callable[..., honker.Database], pg_url: str) -> honker.Database:
    return open_db(pg_url)
