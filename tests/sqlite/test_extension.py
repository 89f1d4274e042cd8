"""extension_info() / load_extension() (docs/spec/python-api.md §3.2-3.3; docs/spec/engine.md §1.1).

This package has no native extension: load_extension(conn) on a stdlib
sqlite3 connection registers the pure-Python SQL functions instead, while
HONKER_EXTENSION_PATH keeps honker's native-loading path and its errors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import honker

NAME = "libhonker_ext.so"


@pytest.fixture
def conn(db_path: str) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(db_path, isolation_level=None)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HONKER_EXTENSION_PATH", raising=False)


def test_entrypoint() -> None:
    assert honker.EXTENSION_ENTRYPOINT == "sqlite3_honkerext_init"


def test_extension_info_searches_and_raises() -> None:
    with pytest.raises(FileNotFoundError) as info:
        honker.extension_info()
    message = str(info.value)
    prefix = "Honker SQLite extension not found; searched: "
    assert message.startswith(prefix)
    searched = message[len(prefix) :].split(", ")
    pkg = Path(honker.__file__).resolve().parent
    assert searched[0] == str(pkg / "_lib" / NAME)
    assert searched[1:] == [str(p / "target" / "release" / NAME) for p in pkg.parents]


def test_env_path_to_a_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope.so"
    monkeypatch.setenv("HONKER_EXTENSION_PATH", str(missing))
    for call in (honker.extension_info, lambda: honker.load_extension(sqlite3.connect(":memory:"))):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert str(info.value) == f"HONKER_EXTENSION_PATH does not exist: {missing}"


def test_env_path_to_an_existing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ext = tmp_path / "ext.so"
    ext.write_bytes(b"")
    monkeypatch.setenv("HONKER_EXTENSION_PATH", str(ext))
    assert honker.extension_info() == (str(ext), "sqlite3_honkerext_init")


class Recorder:
    """A DB-API-like connection that records what load_extension calls."""

    def __init__(self, load_signature: str | None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._sig = load_signature
        if load_signature is not None:
            self.load_extension = self._load

    def enable_load_extension(self, on: bool) -> None:
        self.calls.append(("enable", on))

    def _load(self, path: str, **kwargs: Any) -> None:
        if self._sig == "positional-only" and kwargs:
            self.calls.append(("load", path, kwargs))
            raise TypeError("load_extension() takes no keyword arguments")
        self.calls.append(("load", path, kwargs))

    def execute(self, sql_text: str, params: tuple[Any, ...]) -> None:
        self.calls.append(("execute", sql_text, params))


EP = "sqlite3_honkerext_init"


@pytest.mark.parametrize(
    ("signature", "middle"),
    [
        ("entrypoint-kwarg", lambda p: [("load", p, {"entrypoint": EP})]),
        (
            "positional-only",
            lambda p: [
                ("load", p, {"entrypoint": EP}),
                ("execute", "SELECT load_extension(?, ?)", (p, EP)),
            ],
        ),
        (None, lambda p: [("execute", "SELECT load_extension(?, ?)", (p, EP))]),
    ],
)
def test_native_load_call_sequence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, signature: str | None, middle: Any
) -> None:
    ext = tmp_path / "ext.so"
    ext.write_bytes(b"")
    monkeypatch.setenv("HONKER_EXTENSION_PATH", str(ext))
    fake = Recorder(signature)
    honker.load_extension(fake)
    assert fake.calls == [("enable", True), *middle(str(ext)), ("enable", False)]


def test_other_drivers_without_an_extension_get_file_not_found() -> None:
    with pytest.raises(FileNotFoundError, match=r"^Honker SQLite extension not found"):
        honker.load_extension(Recorder(None))


def test_load_extension_on_a_plain_connection(conn: sqlite3.Connection) -> None:
    honker.load_extension(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "_honker_notifications" in tables, "created at load time, like honker's extension"
    assert "_honker_live" not in tables
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",), "no PRAGMAs applied"
    assert conn.execute("SELECT honker_bootstrap()").fetchone() == (1,)
    assert conn.execute("SELECT notify('ch', '\"hi\"')").fetchone() == (1,)
    job_id = conn.execute("SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL)").fetchone()[0]
    (claimed,) = conn.execute("SELECT honker_claim_batch('q', 'w', 1, 30)").fetchone()
    assert [j["id"] for j in json.loads(claimed)] == [job_id]
    assert conn.execute("SELECT honker_ack(?, 'w')", (job_id,)).fetchone() == (1,)
    assert conn.execute("SELECT honker_get_job(?)", (job_id,)).fetchone() == ("",)


def test_load_extension_shares_the_file_with_honker_open(conn: sqlite3.Connection, db) -> None:
    honker.load_extension(conn)
    conn.execute("SELECT honker_enqueue('q', '{\"n\": 1}', NULL, NULL, 0, 3, NULL)")
    job = db.queue("q").claim_one("w")
    assert job is not None and job.payload == {"n": 1}


def test_load_extension_in_a_transaction_rolls_back(conn: sqlite3.Connection) -> None:
    honker.load_extension(conn)
    conn.execute("SELECT honker_bootstrap()")
    conn.execute("BEGIN")
    conn.execute("SELECT honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL)")
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM _honker_live").fetchone() == (0,)
