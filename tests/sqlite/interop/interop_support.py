"""Helpers for the interop tests: the two "sides" and plain-sqlite3 inspection.

A *side* is one engine acting on a shared .db file:

- :class:`NodeSide`: honker's own engine, in the node driver child, through
  its ``honker_*`` SQL functions (how honker's Node users call it);
- :class:`PySide`: this package, in the pytest process, through its public
  Python API (``db.queue(...)``, ``Job.ack()``, ``db.lock()``, ...).

Both take and return the same plain values (payloads as Python objects, 0/1
as ints), so one test body runs in both directions.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import honker

DRIVER = Path(__file__).resolve().parent / "honker_driver.js"
REQUEST_TIMEOUT_S = 30.0


def has_module(name: str) -> bool:
    """Whether ``honker.<name>`` exists in this checkout."""
    return importlib.util.find_spec(f"honker.{name}") is not None


def js_json(value: Any) -> str:
    """What JavaScript's ``JSON.stringify`` produces (compact, raw UTF-8)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- the node driver child ------------------------------------------------------
class NodeError(Exception):
    """The driver answered ``ok: false``; ``str()`` is honker's message."""

    def __init__(self, message: str, step: int | None = None) -> None:
        super().__init__(message)
        self.step = step


class NodeHonker:
    """Client of one ``honker_driver.js`` child (see its header for the protocol)."""

    def __init__(self, node_exe: str, binding: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [node_exe, str(DRIVER), str(binding)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._next_id = 0
        self._threads = [
            threading.Thread(
                target=self._pump,
                args=(self.proc.stdout, self._lines.put),
                name="interop-node-stdout",
                daemon=True,
            ),
            threading.Thread(
                target=self._pump,
                args=(self.proc.stderr, self._stderr.append),
                name="interop-node-stderr",
                daemon=True,
            ),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(pipe: Any, put: Any) -> None:
        for line in pipe:
            put(line)
        put(None)

    # -- protocol -------------------------------------------------------------
    def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one request; return its ``result`` or raise :class:`NodeError`."""
        self._next_id += 1
        rid = self._next_id
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **args}) + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"node driver gave no answer to {op} within {timeout}s; stderr:\n{self.stderr}"
            ) from None
        if line is None:
            self._lines.put(None)
            raise AssertionError(f"node driver exited; stderr:\n{self.stderr}")
        resp = json.loads(line)
        assert resp["id"] == rid, resp
        if not resp["ok"]:
            raise NodeError(resp["error"], resp.get("step"))
        return resp["result"]

    @property
    def stderr(self) -> str:
        return "".join(s for s in self._stderr if s)

    # -- conveniences ---------------------------------------------------------
    def tx(self, db: str, steps: list[dict[str, Any]], rollback: bool = False) -> list[Any]:
        """One honker transaction of ``steps``; their results."""
        return self.request("tx", db=db, steps=steps, rollback=rollback)  # type: ignore[no-any-return]

    def sql(self, db: str, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """``tx.query(sql, params)`` in a transaction of its own: the rows."""
        return self.tx(db, [{"q": sql, "p": params or []}])[0]  # type: ignore[no-any-return]

    def one(self, db: str, sql: str, params: list[Any] | None = None) -> Any:
        """The single value of a one-row, one-column query (run in a write transaction)."""
        rows = self.sql(db, sql, params)
        assert len(rows) == 1 and len(rows[0]) == 1, rows
        return next(iter(rows[0].values()))

    def call(self, db: str, fn: str, *args: Any) -> Any:
        """``SELECT fn(args...)`` in its own write transaction."""
        marks = ", ".join("?" * len(args))
        return self.one(db, f"SELECT {fn}({marks}) AS r", list(args))

    def read(self, db: str, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """``db.query`` on one of honker's reader connections."""
        return self.request("query", db=db, sql=sql, params=params or [])  # type: ignore[no-any-return]

    def open(self, db: str) -> None:
        self.request("open", db=db)

    def close(self, db: str) -> None:
        self.request("close", db=db)

    def shutdown(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("exit", timeout=5)
            except (AssertionError, BrokenPipeError, OSError):
                self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(5)


# -- plain sqlite3 (neither engine) ---------------------------------------------
@contextmanager
def raw(path: str) -> Iterator[sqlite3.Connection]:
    """A plain autocommit sqlite3 connection (for inspection and moving time)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def raw_exec(path: str, sql: str, params: tuple[Any, ...] = ()) -> int:
    """Run one statement with plain sqlite3; rows changed."""
    with raw(path) as conn:
        return conn.execute(sql, params).rowcount


def raw_rows(path: str, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with raw(path) as conn:
        cur = conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def raw_one(path: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with raw(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def now(path: str) -> int:
    return int(raw_one(path, "SELECT unixepoch()"))


HONKER_TABLES = (
    "_honker_notifications",
    "_honker_live",
    "_honker_dead",
    "_honker_locks",
    "_honker_rate_limits",
    "_honker_scheduler_tasks",
    "_honker_results",
    "_honker_stream",
    "_honker_stream_consumers",
)


def dump(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every honker table (and sqlite_sequence), in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with raw(path) as conn:
        for table in (*HONKER_TABLES, "sqlite_sequence"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
    return out


def _norm_ws(sql: str | None) -> str | None:
    if sql is None:
        return None
    s = re.sub(r"\s+", " ", sql).strip()
    return re.sub(r"\s*([(),])\s*", r"\1", s)


def partial_where(sql: str | None) -> str | None:
    """The WHERE clause of a CREATE INDEX statement, whitespace-normalised."""
    if sql is None:
        return None
    m = re.search(r"\bWHERE\b(.*)$", sql, re.S | re.I)
    return _norm_ws(m.group(1)) if m else None


SIDE_PREFIX = "_honkerpy_"
# honker-py's side tables (new state of its own; honker's tables stay as they are).
SIDE_OBJECTS = [
    ("table", "_honkerpy_paused"),
    ("index", "sqlite_autoindex__honkerpy_paused_1"),
    ("table", "_honkerpy_throughput"),
    ("index", "sqlite_autoindex__honkerpy_throughput_1"),
    ("table", "_honkerpy_totals"),
    ("index", "sqlite_autoindex__honkerpy_totals_1"),
    ("index", "_honkerpy_dead_queue"),  # on honker's _honker_dead: an index only
]


def is_side(name: str, tbl_name: str) -> bool:
    """honker-py's own object: a side table, its indexes, or its index on a
    honker table (named ``_honkerpy_*``)."""
    return name.startswith(SIDE_PREFIX) or tbl_name.startswith(SIDE_PREFIX)


def side_objects(path: str) -> list[tuple[str, str]]:
    """The ``_honkerpy_*`` tables and indexes of ``path``, in sqlite_master order."""
    with raw(path) as conn:
        return conn.execute(
            "SELECT type, name FROM sqlite_master WHERE tbl_name LIKE '\\_honkerpy\\_%' "
            "ESCAPE '\\' OR name LIKE '\\_honkerpy\\_%' ESCAPE '\\' ORDER BY rowid"
        ).fetchall()


def schema(path: str, prefix: str = "_honker_") -> dict[str, Any]:
    """A comparable description of every ``prefix*`` table, index and view
    (honker-py's ``_honkerpy_*`` side tables left out: see ``side_objects``).

    Per table: ``pragma_table_info`` rows and ``pragma_index_list``; per index
    ``pragma_index_xinfo`` and the partial-index WHERE text; per view its
    normalised SQL. Plus the ``sqlite_master`` order and file-level settings.
    """
    with raw(path) as conn:
        master = [
            m
            for m in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
            ).fetchall()
            if not is_side(m[1], m[2])  # honker-py's own side tables and index
        ]
        ours = [m for m in master if m[2].startswith(prefix) or m[1].startswith(prefix)]
        out: dict[str, Any] = {
            "master_order": [(t, n, tbl) for t, n, tbl, _ in master],
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
            "application_id": conn.execute("PRAGMA application_id").fetchone()[0],
        }
        for typ, name, tbl, sql in ours:
            if typ == "table":
                out[f"table {name}"] = {
                    "info": conn.execute(
                        'SELECT cid, name, type, "notnull", dflt_value, pk '
                        "FROM pragma_table_info(?)",
                        (name,),
                    ).fetchall(),
                    "indexes": sorted(
                        r
                        for r in conn.execute(
                            'SELECT name, "unique", origin, partial FROM pragma_index_list(?)',
                            (name,),
                        ).fetchall()
                        if not r[0].startswith(SIDE_PREFIX)
                    ),
                    "autoincrement": "AUTOINCREMENT" in (sql or "").upper(),
                }
            elif typ == "index":
                out[f"index {name}"] = {
                    "table": tbl,
                    "xinfo": conn.execute(
                        'SELECT seqno, cid, name, "desc", coll, key FROM pragma_index_xinfo(?)',
                        (name,),
                    ).fetchall(),
                    "where": partial_where(sql),
                }
            else:
                out[f"{typ} {name}"] = _norm_ws(sql)
    return out


# -- the two sides ----------------------------------------------------------------
class NodeSide:
    """honker's engine in the node child, through its SQL functions."""

    name = "node"

    def __init__(self, node: Any, path: str) -> None:
        self.node = node
        self.path = path
        node.open(path)

    def _call(self, fn: str, *args: Any) -> Any:
        return self.node.call(self.path, fn, *args)

    # queue
    def enqueue(
        self,
        queue: str,
        payload: Any,
        *,
        run_at: int | None = None,
        delay: int | None = None,
        priority: int = 0,
        max_attempts: int = 3,
        expires: int | None = None,
    ) -> int:
        return self._call(
            "honker_enqueue",
            queue,
            js_json(payload),
            run_at,
            delay,
            priority,
            max_attempts,
            expires,
        )

    def claim(
        self, queue: str, worker: str, n: int = 1, timeout: int = 300
    ) -> list[dict[str, Any]]:
        jobs = json.loads(self._call("honker_claim_batch", queue, worker, n, timeout))
        for job in jobs:
            job["payload"] = json.loads(job["payload"])
        return jobs  # type: ignore[no-any-return]

    def ack(self, queue: str, job_id: int, worker: str) -> int:
        return self._call("honker_ack", job_id, worker)  # type: ignore[no-any-return]

    def ack_batch(self, queue: str, ids: list[int], worker: str) -> int:
        return self._call("honker_ack_batch", json.dumps(ids), worker)  # type: ignore[no-any-return]

    def retry(self, queue: str, job_id: int, worker: str, delay: int, error: str) -> int:
        return self._call("honker_retry", job_id, worker, delay, error)  # type: ignore[no-any-return]

    def fail(self, queue: str, job_id: int, worker: str, error: str) -> int:
        return self._call("honker_fail", job_id, worker, error)  # type: ignore[no-any-return]

    def heartbeat(self, queue: str, job_id: int, worker: str, extend: int) -> int:
        return self._call("honker_heartbeat", job_id, worker, extend)  # type: ignore[no-any-return]

    def cancel(self, queue: str, job_id: int) -> int:
        return self._call("honker_cancel", job_id)  # type: ignore[no-any-return]

    def get_job(self, queue: str, job_id: int) -> dict[str, Any] | None:
        text = self._call("honker_get_job", job_id)
        return json.loads(text) if text else None

    def next_claim_at(self, queue: str) -> int:
        return self._call("honker_queue_next_claim_at", queue)  # type: ignore[no-any-return]

    def sweep_expired(self, queue: str) -> int:
        return self._call("honker_sweep_expired", queue)  # type: ignore[no-any-return]

    # results
    def save_result(self, job_id: int, value: Any, ttl: int = 0) -> None:
        assert self._call("honker_result_save", job_id, js_json(value), ttl) == 1

    def get_result(self, job_id: int) -> tuple[bool, Any]:
        text = self._call("honker_result_get", job_id)
        return (False, None) if text is None else (True, json.loads(text))

    def sweep_results(self) -> int:
        return self._call("honker_result_sweep")  # type: ignore[no-any-return]

    # locks and rate limits
    def lock_acquire(self, name: str, owner: str, ttl: int) -> int:
        return self._call("honker_lock_acquire", name, owner, ttl)  # type: ignore[no-any-return]

    def lock_release(self, name: str, owner: str) -> int:
        return self._call("honker_lock_release", name, owner)  # type: ignore[no-any-return]

    def lock_renew(self, name: str, owner: str, ttl: int) -> int:
        return self._call("honker_lock_renew", name, owner, ttl)  # type: ignore[no-any-return]

    def rate_limit(self, name: str, limit: int, per: int) -> int:
        return self._call("honker_rate_limit_try", name, limit, per)  # type: ignore[no-any-return]

    def sweep_rate_limits(self, older_than_s: int) -> int:
        return self._call("honker_rate_limit_sweep", older_than_s)  # type: ignore[no-any-return]

    # streams
    def publish(self, topic: str, payload: Any, key: str | None = None) -> int:
        return self._call("honker_stream_publish", topic, key, js_json(payload))  # type: ignore[no-any-return]

    def read_since(self, topic: str, offset: int, limit: int = 1000) -> list[dict[str, Any]]:
        return json.loads(self._call("honker_stream_read_since", topic, offset, limit))  # type: ignore[no-any-return]

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        return self._call("honker_stream_save_offset", consumer, topic, offset)  # type: ignore[no-any-return]

    def get_offset(self, consumer: str, topic: str) -> int:
        return self._call("honker_stream_get_offset", consumer, topic)  # type: ignore[no-any-return]

    # scheduler
    def schedule(
        self,
        name: str,
        queue: str,
        expr: str,
        payload: Any,
        *,
        priority: int = 0,
        expires: int | None = None,
        max_attempts: int | None = None,
    ) -> None:
        args: list[Any] = [name, queue, expr, js_json(payload), priority, expires]
        if max_attempts is not None:
            args.append(max_attempts)
        assert self._call("honker_scheduler_register", *args) == 1

    def unschedule(self, name: str) -> int:
        return self._call("honker_scheduler_unregister", name)  # type: ignore[no-any-return]

    def pause(self, name: str) -> int:
        return self._call("honker_scheduler_pause", name)  # type: ignore[no-any-return]

    def resume(self, name: str) -> int:
        return self._call("honker_scheduler_resume", name)  # type: ignore[no-any-return]

    def tick(self, now_unix: int) -> list[dict[str, Any]]:
        return json.loads(self._call("honker_scheduler_tick", now_unix))  # type: ignore[no-any-return]

    def schedules(self) -> list[dict[str, Any]]:
        return json.loads(self._call("honker_scheduler_list"))  # type: ignore[no-any-return]

    def soonest(self) -> int:
        return self._call("honker_scheduler_soonest")  # type: ignore[no-any-return]

    # notify
    def notify(self, channel: str, payload: Any) -> int:
        return self.node.tx(self.path, [{"notify": [channel, payload]}])[0]  # type: ignore[no-any-return]


class PySide:
    """This package, in this process, through its public Python API."""

    name = "python"

    def __init__(self, db: honker.Database) -> None:
        self.db = db
        self.path = db.path

    def _q(self, queue: str, timeout: int = 300) -> honker.Queue:
        return honker.Queue(self.db, queue, visibility_timeout_s=timeout)

    # queue
    def enqueue(
        self,
        queue: str,
        payload: Any,
        *,
        run_at: int | None = None,
        delay: int | None = None,
        priority: int = 0,
        max_attempts: int = 3,
        expires: int | None = None,
    ) -> int:
        return self.db.queue(queue).enqueue(
            payload,
            run_at=run_at,
            delay=delay,
            priority=priority,
            expires=expires,
            max_attempts=max_attempts,
        )

    def claim(
        self, queue: str, worker: str, n: int = 1, timeout: int = 300
    ) -> list[dict[str, Any]]:
        jobs = self._q(queue, timeout).claim_batch(worker, n)
        return [
            {
                "id": j.id,
                "queue": j.queue_name,
                "payload": j.payload,
                "worker_id": j.worker_id,
                "attempts": j.attempts,
                "claim_expires_at": j.claim_expires_at,
            }
            for j in jobs
        ]

    def ack(self, queue: str, job_id: int, worker: str) -> int:
        return int(self.db.queue(queue).ack(job_id, worker))

    def ack_batch(self, queue: str, ids: list[int], worker: str) -> int:
        return int(self.db.queue(queue).ack_batch(ids, worker))

    def retry(self, queue: str, job_id: int, worker: str, delay: int, error: str) -> int:
        return int(self.db.queue(queue).retry(job_id, worker, delay, error))

    def fail(self, queue: str, job_id: int, worker: str, error: str) -> int:
        return int(self.db.queue(queue).fail(job_id, worker, error))

    def heartbeat(self, queue: str, job_id: int, worker: str, extend: int) -> int:
        return int(self.db.queue(queue).heartbeat(job_id, worker, extend))

    def cancel(self, queue: str, job_id: int) -> int:
        return int(self.db.queue(queue).cancel(job_id))

    def get_job(self, queue: str, job_id: int) -> dict[str, Any] | None:
        return self.db.queue(queue).get_job(job_id)

    def next_claim_at(self, queue: str) -> int:
        with self.db.transaction() as tx:
            return tx.query("SELECT honker_queue_next_claim_at(?) AS r", [queue])[0]["r"]  # type: ignore[no-any-return]

    def sweep_expired(self, queue: str) -> int:
        return self.db.queue(queue).sweep_expired()

    # results
    def save_result(self, job_id: int, value: Any, ttl: int = 0) -> None:
        self.db.queue("results").save_result(job_id, value, ttl=ttl or None)

    def get_result(self, job_id: int) -> tuple[bool, Any]:
        return self.db.queue("results").get_result(job_id)

    def sweep_results(self) -> int:
        return self.db.queue("results").sweep_results()

    # locks and rate limits
    def lock_acquire(self, name: str, owner: str, ttl: int) -> int:
        lock = self.db.lock(name, ttl=ttl, owner=owner)
        try:
            lock.__enter__()
        except honker.LockHeld:
            return 0
        return 1

    def lock_release(self, name: str, owner: str) -> int:
        # The API releases only what this process acquired: use the SQL function.
        return self._sql("honker_lock_release", name, owner)  # type: ignore[no-any-return]

    def lock_renew(self, name: str, owner: str, ttl: int) -> int:
        return self._sql("honker_lock_renew", name, owner, ttl)  # type: ignore[no-any-return]

    def rate_limit(self, name: str, limit: int, per: int) -> int:
        return int(self.db.try_rate_limit(name, limit, per))

    def sweep_rate_limits(self, older_than_s: int) -> int:
        return self.db.sweep_rate_limits(older_than_s)

    # streams (through honker.Stream when this checkout has it)
    def publish(self, topic: str, payload: Any, key: str | None = None) -> int:
        if has_module("_stream"):
            self.db.stream(topic).publish(payload, key=key)
            return int(raw_one(self.path, "SELECT max(offset) FROM _honker_stream"))
        return self._sql("honker_stream_publish", topic, key, json.dumps(payload))  # type: ignore[no-any-return]

    def read_since(self, topic: str, offset: int, limit: int = 1000) -> list[dict[str, Any]]:
        if has_module("_stream"):
            return self.db.stream(topic)._read_since(offset, limit)  # type: ignore[no-any-return]
        return json.loads(self._sql("honker_stream_read_since", topic, offset, limit))  # type: ignore[no-any-return]

    def save_offset(self, consumer: str, topic: str, offset: int) -> int:
        before = self.get_offset(consumer, topic)
        exists = raw_one(
            self.path,
            "SELECT count(*) FROM _honker_stream_consumers WHERE name=? AND topic=?",
            (consumer, topic),
        )
        if has_module("_stream"):
            self.db.stream(topic).save_offset(consumer, offset)
        else:
            self._sql("honker_stream_save_offset", consumer, topic, offset)
        return int(not exists or offset > before)

    def get_offset(self, consumer: str, topic: str) -> int:
        if has_module("_stream"):
            return self.db.stream(topic).get_offset(consumer)
        return self._sql("honker_stream_get_offset", consumer, topic)  # type: ignore[no-any-return]

    # scheduler (through honker.Scheduler when this checkout has it)
    def _scheduler(self) -> Any:
        return honker.Scheduler(self.db) if has_module("_scheduler") else None

    def schedule(
        self,
        name: str,
        queue: str,
        expr: str,
        payload: Any,
        *,
        priority: int = 0,
        expires: int | None = None,
        max_attempts: int | None = None,
    ) -> None:
        s = self._scheduler()
        if s is not None:
            s.add(
                name=name,
                queue=queue,
                schedule=honker.CronSchedule(expr),
                payload=payload,
                priority=priority,
                expires=expires,
                max_attempts=3 if max_attempts is None else max_attempts,
            )
            return
        args: list[Any] = [name, queue, expr, json.dumps(payload), priority, expires]
        if max_attempts is not None:
            args.append(max_attempts)
        assert self._sql("honker_scheduler_register", *args) == 1

    def unschedule(self, name: str) -> int:
        s = self._scheduler()
        return int(s.remove(name)) if s else self._sql("honker_scheduler_unregister", name)

    def pause(self, name: str) -> int:
        s = self._scheduler()
        return int(s.pause(name)) if s else self._sql("honker_scheduler_pause", name)

    def resume(self, name: str) -> int:
        s = self._scheduler()
        return int(s.resume(name)) if s else self._sql("honker_scheduler_resume", name)

    def tick(self, now_unix: int) -> list[dict[str, Any]]:
        s = self._scheduler()
        if s is not None:
            return s.tick(now=now_unix)  # type: ignore[no-any-return]
        return json.loads(self._sql("honker_scheduler_tick", now_unix))  # type: ignore[no-any-return]

    def schedules(self) -> list[dict[str, Any]]:
        s = self._scheduler()
        if s is not None:
            return s.list()  # type: ignore[no-any-return]
        return json.loads(self._sql("honker_scheduler_list"))  # type: ignore[no-any-return]

    def soonest(self) -> int:
        return self._sql("honker_scheduler_soonest")  # type: ignore[no-any-return]

    # notify
    def notify(self, channel: str, payload: Any) -> int:
        with self.db.transaction() as tx:
            return tx.notify(channel, payload)

    # the engine's SQL functions through our tx.query
    def _sql(self, fn: str, *args: Any) -> Any:
        marks = ", ".join("?" * len(args))
        with self.db.transaction() as tx:
            return tx.query(f"SELECT {fn}({marks}) AS r", list(args))[0]["r"]
