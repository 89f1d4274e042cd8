"""SQL function identity: every ``honker_*`` function, on twin databases.

The same sequence of calls runs on a file honker's engine created (node
child) and on one this package created (``tx.query`` in this process), one
transaction per call. Each call's result is compared as ``typeof()`` plus
``quote()`` (so text, integers and NULL must match byte for byte, big integers
included), each failure by its error message, and at the end every row of
every honker table. Results depend on ``unixepoch()``, so both runs start
just after a second boundary and the comparison is retried (on fresh files)
if the second ticked in between.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from interop_support import dump, js_json

import honker

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

Case = tuple[str, list[Any]]  # (SQL expression, parameters)


def c(expr: str, *params: Any) -> Case:
    return (expr, list(params))


def _call(fn: str, nargs: int) -> str:
    return f"{fn}({', '.join('?' * nargs)})"


PAYLOADS = [
    js_json({"a": 1}),
    js_json({"s": "héllo ✓ 😀", "k": ["ü", "ß"]}),
    js_json({"ctl": 'a\nb\tc\r\x01\x1f\x7f\u2028/\\"', "n": None}),
    "raw \x01\x08\x0c\x1f text\n",  # not JSON at all: stored and returned as is
    "",
    "null",
    js_json("x" * 300),
]

QUEUE_CASES: list[Case] = [
    *(c(_call("honker_enqueue", 7), "q", p, None, None, 0, 3, None) for p in PAYLOADS),
    c(_call("honker_enqueue", 7), "q", js_json([1]), None, None, 5, 3, None),
    c(_call("honker_enqueue", 7), "q", js_json([2]), None, None, -3, 3, None),
    c(_call("honker_enqueue", 7), "q", js_json([3]), None, 3600, 9, 3, None),  # delayed
    c(_call("honker_enqueue", 7), "q", js_json([4]), 0, None, 1, 3, None),  # run_at in the past
    c(_call("honker_enqueue", 7), "q", js_json([5]), 4102444800, 10, 0, 3, None),  # delay wins
    c(_call("honker_enqueue", 7), "q", js_json([6]), None, -5, 0, 3, 3600),  # expires
    c(_call("honker_enqueue", 7), "q", js_json([7]), None, None, 0, 0, None),  # max_attempts 0
    c(_call("honker_enqueue", 7), "q", js_json([8]), None, None, 0, -1, -10),  # already expired
    c(_call("honker_enqueue", 7), "", "", None, None, 0, 1, None),  # empty queue name
    c(_call("honker_enqueue", 7), "üñí", js_json({"q": "ü"}), None, None, 2, 3, None),
    c(f"honker_enqueue('big', '1', NULL, NULL, {I64_MAX}, 3, NULL)"),
    c(f"honker_enqueue('big', '2', NULL, NULL, {I64_MIN}, {I64_MAX}, NULL)"),
    c(f"honker_enqueue('big', '3', {I64_MAX}, NULL, 0, 3, NULL)"),
    c(f"honker_enqueue('big', '4', {I64_MIN}, NULL, 0, 3, NULL)"),
    # now + delay / now + expires past 2^63-1 wrap around in honker's Rust i64
    c(f"honker_enqueue('wrap', '5', NULL, {I64_MAX}, 0, 3, {I64_MAX})"),
    c(f"honker_enqueue('wrap', '6', NULL, {I64_MAX} - unixepoch(), 0, 3, {I64_MAX} - unixepoch())"),
    c(f"honker_enqueue('wrap', '7', NULL, {I64_MAX} - unixepoch() + 1, 0, 3, {I64_MIN})"),
    c(f"honker_enqueue('wrap', '8', 5, {I64_MIN}, 0, 3, NULL)"),
    c("honker_get_job(1)"),
    c("honker_get_job(2)"),
    c("honker_get_job(3)"),
    c("honker_get_job(4)"),
    c("honker_get_job(999)"),
    c("honker_get_job(-1)"),
    c(f"honker_get_job({I64_MAX})"),
    c("honker_queue_next_claim_at('q')"),
    c("honker_queue_next_claim_at('nope')"),
    c("honker_claim_batch('q', 'w1', 0, 30)"),
    c("honker_claim_batch('q', 'w1', 2, 30)"),  # dead-letters max_attempts<=0 rows first
    c("honker_claim_batch('q', 'w2', 1, -5)"),  # a claim that is already expired
    c("honker_claim_batch('q', 'w3', 1, 30)"),  # reclaims it
    c("honker_claim_batch('q', 'w4', -1, 60)"),  # negative n: everything eligible
    c("honker_claim_batch('q', 'w5', 3, 60)"),  # nothing left
    c("honker_claim_batch('', 'w', 5, 60)"),
    c("honker_claim_batch('üñí', 'wü', 5, 60)"),
    c("honker_claim_batch('big', 'wb', 5, 60)"),
    c("honker_queue_next_claim_at('q')"),
    c("honker_get_job(1)"),
    c("honker_get_job(8)"),
    c("honker_ack(1, 'nobody')"),
    c("honker_ack(1, 'w1')"),
    c("honker_ack(1, 'w1')"),
    c("honker_ack_batch('[2, 3, 4, 999]', 'w4')"),
    c("honker_ack_batch('[\"5\", \"6\"]', 'w4')"),
    c("honker_ack_batch('[]', 'w4')"),
    c("honker_ack_batch('not json', 'w4')"),
    c("honker_heartbeat(7, 'w4', 120)"),
    c("honker_heartbeat(7, 'nobody', 120)"),
    c("honker_heartbeat(9, 'w4', -10)"),  # releases the claim early
    c("honker_heartbeat(9, 'w4', 10)"),  # too late now
    c("honker_retry(10, 'w4', 0, 'first failure')"),
    c("honker_retry(10, 'w4', 0, 'again')"),  # no longer holds it
    c("honker_fail(11, 'w4', 'fatal: ü\n\"x\"')"),
    c("honker_fail(11, 'w4', 'twice')"),
    c("honker_cancel(12)"),
    c("honker_cancel(12)"),
    c("honker_claim_batch('q', 'w6', 10, 60)"),
    c("honker_retry(10, 'w6', 30, 'second')"),
    c("honker_queue_next_claim_at('q')"),
    c("honker_sweep_expired('q')"),
    c("honker_sweep_expired('q')"),
    c("honker_sweep_expired('nope')"),
    *(c(f"honker_get_job({i})") for i in range(1, 22)),
]

TYPE_ERROR_CASES: list[Case] = [
    c(_call("honker_enqueue", 7), "q", "p", None, None, None, 3, None),  # Null at index 4
    c(_call("honker_enqueue", 7), "q", 1, None, None, 0, 3, None),  # Integer at index 1
    c(_call("honker_enqueue", 7), "q", "p", None, None, 1.5, 3, None),  # Real
    c(_call("honker_enqueue", 7), "q", "p", None, None, "1", 3, None),  # Text
    c("honker_enqueue('q', x'00ff', NULL, NULL, 0, 3, NULL)"),  # Blob
    c("honker_enqueue('q', 'p', 1.0, NULL, 0, 3, NULL)"),
    c("honker_enqueue(NULL, 'p', NULL, NULL, 0, 3, NULL)"),
    c("honker_enqueue('q', 'p')"),  # wrong argument count
    c("honker_claim_batch('q', 'w', '1', 30)"),
    c("honker_claim_batch('q', NULL, 1, 30)"),
    c("honker_ack('1', 'w')"),
    c("honker_ack(1, 2)"),
    c("honker_ack_batch(NULL, 'w')"),
    c("honker_retry(1, 'w', NULL, 'e')"),
    c("honker_retry(1, 'w', 0, NULL)"),
    c("honker_fail(1, 'w', 3)"),
    c("honker_heartbeat(1, 'w', 2.5)"),
    c("honker_cancel(NULL)"),
    c("honker_get_job('1')"),
    c("honker_queue_next_claim_at(NULL)"),
    c("honker_sweep_expired(1)"),
    c("honker_lock_acquire('l', 'o', NULL)"),
    c("honker_lock_release('l', NULL)"),
    c("honker_lock_renew(x'01', 'o', 1)"),
    c("honker_rate_limit_try('r', '1', 1)"),
    c("honker_rate_limit_sweep(NULL)"),
    c("honker_result_save(1, NULL, 0)"),
    c("honker_result_save('1', 'v', 0)"),
    c("honker_result_get(NULL)"),
    c("honker_stream_publish('t', 1, 'p')"),
    c("honker_stream_publish('t', NULL, NULL)"),
    c("honker_stream_read_since('t', NULL, 1)"),
    c("honker_stream_save_offset('c', 't', 1.5)"),
    c("honker_stream_get_offset('c', NULL)"),
    c("honker_scheduler_register('n', 'q', '* * * * *', 'p', NULL, NULL)"),
    c("honker_scheduler_register('n', 'q', '* * * * *', 'p', 0, NULL, NULL)"),
    c("honker_scheduler_register('n', 'q', '* * * * *', 'p', 0)"),
    c("honker_scheduler_update('n', 1, NULL, NULL, NULL, 0)"),
    c("honker_scheduler_update('n', NULL, NULL, NULL, NULL, NULL)"),
    c("honker_scheduler_update('n', NULL, NULL, NULL, NULL, 0, NULL)"),
    c("honker_scheduler_tick(NULL)"),
    c("honker_scheduler_tick('1')"),
    c("honker_scheduler_pause(1)"),
    c("honker_cron_next_after(NULL, 0)"),
    c("honker_cron_next_after('* * * * *', 1.5)"),
    c("honker_cron_next_after('* * * * *')"),
    c("notify(NULL, 'p')"),
    c("notify('c', 1)"),
    c("notify('c')"),
    c("honker_bootstrap(1)"),
]

LOCK_RATE_RESULT_CASES: list[Case] = [
    c("honker_lock_acquire('l1', 'a', 60)"),
    c("honker_lock_acquire('l1', 'a', 60)"),  # same owner: 1, TTL not refreshed
    c("honker_lock_acquire('l1', 'b', 60)"),
    c("honker_lock_renew('l1', 'b', 60)"),
    c("honker_lock_renew('l1', 'a', 120)"),
    c("honker_lock_renew('l1', 'a', 0)"),
    c("honker_lock_renew('l1', 'a', -1)"),
    c("honker_lock_release('l1', 'b')"),
    c("honker_lock_release('l1', 'a')"),
    c("honker_lock_release('l1', 'a')"),
    c("honker_lock_acquire('l2', 'a', 0)"),  # inserted already expired
    c("honker_lock_acquire('l2', 'b', 30)"),  # displaces it
    c("honker_lock_acquire('l3', 'ü', -5)"),
    c("honker_lock_renew('l3', 'ü', 5)"),  # an expired row can be renewed back
    c(f"honker_lock_acquire('l4', 'a', {I64_MIN + 2**40})"),
    c("honker_lock_acquire('', '', 10)"),
    c("honker_rate_limit_try('r', 2, 3600)"),
    c("honker_rate_limit_try('r', 2, 3600)"),
    c("honker_rate_limit_try('r', 2, 3600)"),  # rejected, not counted
    c("honker_rate_limit_try('r', 5, 3600)"),  # same window, bigger limit
    c("honker_rate_limit_try('r', 0, 60)"),
    c("honker_rate_limit_try('r', 1, 0)"),
    c("honker_rate_limit_try('r', -1, -1)"),
    c("honker_rate_limit_try('r2', 1, 1)"),
    c("honker_rate_limit_try('r3', 1, 1000000000)"),
    c("honker_rate_limit_sweep(0)"),
    c("honker_rate_limit_sweep(-100000)"),
    c("honker_rate_limit_sweep(3600)"),
    c("honker_result_get(1)"),
    c(_call("honker_result_save", 3), 1, js_json({"v": "ü", "n": [1, 2.5, None]}), 0),
    c(_call("honker_result_save", 3), 2, "null", 3600),
    c(_call("honker_result_save", 3), 3, "", -1),
    c(_call("honker_result_save", 3), 4, "tmp", 1),
    c("honker_result_get(1)"),
    c("honker_result_get(2)"),
    c("honker_result_get(3)"),
    c("honker_result_get(4)"),
    c("honker_result_get(5)"),
    c(_call("honker_result_save", 3), 1, "replaced", 60),  # created_at kept
    c("honker_result_get(1)"),
    c("honker_result_sweep()"),
    c(f"honker_result_save({I64_MAX}, 'big', 0)"),
    c(f"honker_result_save(10, 'wrapped ttl', {I64_MAX})"),  # wraps: already expired
    c(f"honker_result_save(11, 'max ttl', {I64_MAX} - unixepoch())"),
    c("honker_result_get(10)"),
    c("honker_result_get(11)"),
    c(f"honker_result_get({I64_MAX})"),
]

STREAM_CASES: list[Case] = [
    c("honker_stream_get_offset('c', 't')"),
    c("honker_stream_read_since('t', 0, 10)"),
    c(_call("honker_stream_publish", 3), "t", None, js_json({"e": 1})),
    c(_call("honker_stream_publish", 3), "t", "k1", js_json({"e": "ü😀\n"})),
    c(_call("honker_stream_publish", 3), "other", "", "raw\ttext"),
    c(_call("honker_stream_publish", 3), "t", "ключ", ""),
    c(_call("honker_stream_publish", 3), "", None, "null"),
    c("honker_stream_read_since('t', 0, 10)"),
    c("honker_stream_read_since('t', 0, -1)"),
    c("honker_stream_read_since('t', 0, 0)"),
    c("honker_stream_read_since('t', 1, 1)"),
    c("honker_stream_read_since('t', -100, 2)"),
    c(f"honker_stream_read_since('t', {I64_MAX}, 10)"),
    c("honker_stream_read_since('', 0, 10)"),
    c("honker_stream_read_since('other', 0, 10)"),
    c("honker_stream_save_offset('c', 't', -5)"),  # first save always inserts
    c("honker_stream_save_offset('c', 't', 2)"),
    c("honker_stream_save_offset('c', 't', 1)"),  # never backwards
    c("honker_stream_save_offset('c', 't', 2)"),
    c(f"honker_stream_save_offset('c2', 't', {I64_MAX})"),
    c("honker_stream_get_offset('c', 't')"),
    c("honker_stream_get_offset('c2', 't')"),
    c("honker_stream_get_offset('c', 'other')"),
]

SCHEDULER_CASES: list[Case] = [
    c("honker_scheduler_soonest()"),
    c("honker_scheduler_list()"),
    c("honker_scheduler_tick(0)"),
    c(
        _call("honker_scheduler_register", 6),
        "every",
        "sq",
        "@every 10s",
        js_json({"p": 1}),
        1,
        None,
    ),
    c(_call("honker_scheduler_register", 7), "cron", "sq", "*/5 * * * *", "null", -2, 30, 0),
    c(_call("honker_scheduler_register", 7), "six", "sq2", "0 0 0 1 1 *", js_json("ü"), 0, None, 7),
    c(_call("honker_scheduler_register", 6), "bad", "sq", "61 * * * *", "{}", 0, None),
    c(_call("honker_scheduler_register", 6), "bad", "sq", "@hourly", "{}", 0, None),
    c("honker_scheduler_list()"),
    c("honker_scheduler_soonest()"),
    c("honker_scheduler_pause('every')"),
    c("honker_scheduler_pause('every')"),
    c("honker_scheduler_pause('missing')"),
    c("honker_scheduler_list()"),
    c(_call("honker_scheduler_register", 6), "every", "sq", "@every 20s", js_json({"p": 2}), 3, 5),
    c("honker_scheduler_list()"),  # re-registering keeps it paused
    c("honker_scheduler_resume('every')"),
    c("honker_scheduler_resume('every')"),
    c("honker_scheduler_update('missing', 'not a cron', NULL, NULL, NULL, 0)"),
    c("honker_scheduler_update('cron', 'not a cron', NULL, NULL, NULL, 0)"),
    c("honker_scheduler_update('cron', NULL, NULL, NULL, NULL, 0)"),
    c("honker_scheduler_update('cron', NULL, '{\"new\":true}', 9, NULL, 1)"),
    c("honker_scheduler_update('cron', NULL, NULL, NULL, 45, 1, NULL, 1)"),
    c("honker_scheduler_update('cron', NULL, NULL, NULL, NULL, 0, -4, 1)"),
    c("honker_scheduler_update('six', '0 30 * * * *', NULL, NULL, NULL, 0, 5, 0)"),
    c("honker_scheduler_list()"),
    c("honker_scheduler_tick(unixepoch())"),
    c("honker_scheduler_tick(unixepoch() + 100000)"),  # 64-fire cap for @every 20s
    c("honker_scheduler_tick(unixepoch() + 100000)"),
    c("honker_scheduler_list()"),
    c("honker_claim_batch('sq', 'w', 3, 60)"),
    c("honker_scheduler_soonest()"),
    c("honker_scheduler_unregister('cron')"),
    c("honker_scheduler_unregister('cron')"),
    c("honker_scheduler_pause('every')"),
    c("honker_scheduler_pause('six')"),
    c("honker_scheduler_soonest()"),
]

CRON_EXPRS = [
    "* * * * *",
    "*/15 * * * *",
    "5/15 * * * *",
    "0 0 1 * 1",
    "0 0 29 2 *",
    "0 0 31 2 *",
    "0 12 * * 0-6",
    "30 2 * * *",
    "0,30 9-17/2 * 1-6 1-5",
    "*/1000 * * * *",
    "+5 * * * *",
    "0 0 0 * * *",
    "59 59 23 31 12 *",
    "  */7   * * * *  ",
    "@every 5s",
    "@every 01s",
    "@every5s",
    "@every 2m",
    "@every 3h",
    "@every 1d",
    "@every 90m",
    # errors (docs/spec/engine.md §6.3)
    "",
    "bad",
    "@hourly",
    "* * * *",
    "* * * * * * *",
    "60 * * * *",
    "5-1 * * * *",
    "* * * * 7",
    "MON * * * *",
    "? * * * *",
    "1- * * * *",
    "-1 * * * *",
    "*/0 * * * *",
    "*/x * * * *",
    "1,,2 * * * *",
    "@every",
    "@every ",
    "@every -5s",
    "@every 5",
    "@every s",
    "@every 0s",
    "@every 5 s",
    "@every 5w",
    "@every 99999999999999999999s",
    "@every 9999999999999999d",
    "\u00e9 * * * *",
    "\x01 * * * *",
    "😀 * * * *",
    '"q" * * * *',
    "a\\b * * * *",
    "\u200b * * * *",
    "\u0301 * * * *",
]
CRON_FROMS = [0, 1, 59, 1_700_000_000, 1_772_949_600, 1_798_675_200, -86_400, 4_102_444_800]

CRON_CASES: list[Case] = [
    *(c(_call("honker_cron_next_after", 2), e, f) for e in CRON_EXPRS for f in CRON_FROMS[:3]),
    *(c(_call("honker_cron_next_after", 2), e, f) for e in CRON_EXPRS[:21] for f in CRON_FROMS),
    c(f"honker_cron_next_after('@every 1s', {I64_MAX})"),
    c(f"honker_cron_next_after('@every 1s', {I64_MAX - 1})"),
    c(f"honker_cron_next_after('* * * * *', {I64_MAX})"),
    c(f"honker_cron_next_after('* * * * *', {I64_MIN})"),
    c("honker_cron_next_after('* * * * *', 253402300799)"),
    # chrono's range of local datetimes: -262143-01-01 .. +262142-12-31
    c("honker_cron_next_after('0 0 1 1 *', 8210235340799)"),
    c("honker_cron_next_after('* * * * *', 8210266876739)"),
    c("honker_cron_next_after('* * * * *', 8210266876800)"),  # 262143-01-01T00:00:00Z
    c("honker_cron_next_after('0 0 1 1 *', 8210298412799)"),
    c("honker_cron_next_after('* * * * *', -8334601228800)"),
    c("honker_cron_next_after('* * * * *', -8334601228801)"),  # -262144-12-31T23:59:59Z
    c("honker_cron_next_after('@every 1d', 8210266876799)"),  # @every is plain addition
]

# Durations past 2^63 s: what overflows in honker's Rust wraps around, what
# overflows in its SQL becomes a REAL that its i64 reads then reject.
OVERFLOW_CASES: list[Case] = [
    c("honker_enqueue('o', 'a', NULL, NULL, 0, 3, NULL)"),
    c("honker_enqueue('o', 'b', NULL, NULL, 0, 3, NULL)"),
    c("honker_enqueue('o', 'c', NULL, NULL, 0, 3, NULL)"),
    c("honker_claim_batch('o', 'w', 3, 60)"),
    c(f"honker_heartbeat(1, 'w', {I64_MAX})"),
    c("honker_get_job(1)"),
    c("honker_queue_next_claim_at('o')"),
    c(f"honker_retry(2, 'w', {I64_MAX}, 'e')"),
    c("honker_get_job(2)"),
    c("honker_queue_next_claim_at('o')"),
    c(f"honker_retry(3, 'w', {I64_MAX} - unixepoch(), 'e')"),
    c("honker_get_job(3)"),
    c("honker_claim_batch('o', 'w2', 3, 60)"),
    c("honker_ack(1, 'w')"),
    c(f"honker_claim_batch('o', 'w3', {I64_MIN}, {I64_MIN})"),
    c(f"honker_lock_acquire('l', 'o', {I64_MAX})"),
    c("honker_lock_acquire('l', 'p', 10)"),
    c(f"honker_lock_renew('l', 'o', {I64_MAX})"),
    c(f"honker_result_save(1, 'v', {I64_MAX})"),
    c("honker_result_get(1)"),
    c(f"honker_result_save(2, 'w', {I64_MAX} - unixepoch())"),
    c("honker_result_get(2)"),
    c("honker_result_sweep()"),
    c(f"honker_rate_limit_try('r', 1, {I64_MAX})"),
    c(f"honker_rate_limit_sweep({I64_MIN} + 1)"),
    c(f"honker_scheduler_register('s', 'o', '@every 1s', 'p', 0, {I64_MAX})"),
    c("honker_scheduler_tick(unixepoch() + 3)"),
    c(f"honker_stream_read_since('t', {I64_MIN}, {I64_MAX})"),
    c(f"honker_stream_save_offset('c', 't', {I64_MIN})"),
    *(c(f"honker_get_job({i})") for i in range(4, 8)),
]

NOTIFY_CASES: list[Case] = [
    c("notify('c', 'p')"),
    c(_call("notify", 2), "ü😀", js_json({"x": "\n"})),
    c(_call("notify", 2), "", ""),
    c("honker_bootstrap()"),
    c("honker_bootstrap()"),
]

ALL_CASES = {
    "queue": QUEUE_CASES,
    "type-errors": TYPE_ERROR_CASES,
    "locks-rates-results": LOCK_RATE_RESULT_CASES,
    "streams": STREAM_CASES,
    "scheduler": SCHEDULER_CASES,
    "cron": CRON_CASES,
    "overflow": OVERFLOW_CASES,
    "notify": NOTIFY_CASES,
}

CLOCK = "SELECT unixepoch() AS now"


def _wrap(expr: str) -> str:
    # MATERIALIZED: the function runs exactly once, whatever the planner does.
    return f"WITH t(r) AS MATERIALIZED (SELECT {expr}) SELECT typeof(r) AS t, quote(r) AS q FROM t"


def _node_run(node: Any, path: str, cases: list[Case]) -> list[Any]:
    txs = [[{"q": CLOCK}]] + [[{"q": _wrap(e), "p": p}] for e, p in cases] + [[{"q": CLOCK}]]
    out = node.request("txs", db=path, txs=txs)
    return [
        {"ok": True, "rows": r["result"][0]} if r["ok"] else {"ok": False, "error": r["error"]}
        for r in out
    ]


def _py_run(db: honker.Database, cases: list[Case]) -> list[Any]:
    out: list[Any] = []
    for sql in [(CLOCK, [])] + [(_wrap(e), p) for e, p in cases] + [(CLOCK, [])]:
        try:
            with db.transaction() as tx:
                rows = tx.query(*sql)
            out.append({"ok": True, "rows": rows})
        except honker.HonkerError as exc:  # every error we raise on purpose
            out.append({"ok": False, "error": str(exc), "type": type(exc)})
    return out


def _run_twins(node: Any, open_db: Any, tmp_path: Path, cases: list[Case]) -> None:
    """Run ``cases`` on twin files; fail with a readable diff unless identical."""
    for attempt in range(3):
        theirs = str(tmp_path / f"node-{attempt}.db")
        ours = str(tmp_path / f"py-{attempt}.db")
        node.open(theirs)
        db = open_db(ours)
        if attempt or time.time() % 1.0 > 0.5:  # near the next second: start just after it
            time.sleep(1.0 - time.time() % 1.0 + 0.002)
        a = _node_run(node, theirs, cases)
        b = _py_run(db, cases)
        clocks = {
            a[0]["rows"][0]["now"],
            a[-1]["rows"][0]["now"],
            b[0]["rows"][0]["now"],
            b[-1]["rows"][0]["now"],
        }
        node.close(theirs)
        db.close()
        if len(clocks) > 1:
            continue  # the second ticked: results that embed unixepoch() may differ
        diffs = []
        for (expr, params), x, y in zip(cases, a[1:-1], b[1:-1], strict=True):
            y = {k: v for k, v in y.items() if k != "type"}
            if x != y:
                diffs.append(f"{expr} {params!r}\n   honker: {x}\n   ours:   {y}")
        assert not diffs, f"{len(diffs)} result(s) differ:\n" + "\n".join(diffs)
        for e, r in zip(cases, b[1:-1], strict=True):
            # docs/spec/python-api.md §2: errors raised inside the SQL functions surface as
            # RuntimeError.
            if not r["ok"]:
                assert issubclass(r["type"], RuntimeError), (e, r)
        da, db_ = dump(theirs), dump(ours)
        assert da == db_, "table contents differ: " + "\n".join(
            f"{t}:\n   honker: {da[t]}\n   ours:   {db_[t]}" for t in da if da[t] != db_[t]
        )
        return
    pytest.fail("the clock second ticked during every attempt")


@pytest.mark.parametrize("group", list(ALL_CASES))
def test_sql_functions_are_identical(group: str, node: Any, open_db: Any, tmp_path: Path) -> None:
    _run_twins(node, open_db, tmp_path, ALL_CASES[group])


def test_error_messages_surface_through_the_python_api(
    node: Any, open_db: Any, tmp_path: Path
) -> None:
    """Where our Python API reports an engine error, the text is honker's."""
    path = str(tmp_path / "e.db")
    db = open_db(path)

    def node_error(expr: str) -> str:
        res = _node_run(node, path, [c(expr)])[1]
        assert not res["ok"]
        return res["error"]  # type: ignore[no-any-return]

    checks: list[tuple[str, Callable[[], Any], type[BaseException]]] = [
        ("honker_lock_renew('l', 'o', -1)", lambda: _renew(db, -1), RuntimeError),
        ("honker_rate_limit_try('r', 0, 1)", lambda: db.try_rate_limit("r", 0, 1), ValueError),
        (
            "honker_cron_next_after('61 * * * *', 0)",
            lambda: honker.CronSchedule("61 * * * *"),
            ValueError,
        ),
        (
            "honker_cron_next_after('@every 0s', 0)",
            lambda: honker.CronSchedule("@every 0s"),
            ValueError,
        ),
        (
            "honker_cron_next_after('@every 5 s', 0)",
            lambda: honker.CronSchedule("@every 5 s"),
            ValueError,
        ),
        (
            "honker_cron_next_after('0 0 31 2 *', 0)",
            lambda: honker.CronSchedule("0 0 31 2 *"),
            ValueError,
        ),
        (
            "honker_scheduler_register('s', 'q', '* * *', 'null', 0, NULL)",
            lambda: _scheduler_add(db, "* * *"),
            RuntimeError,
        ),
    ]
    for expr, call, kind in checks:
        expected = node_error(expr)
        with pytest.raises(kind) as info:
            call()
        assert str(info.value) == expected, expr
    node.close(path)


def _renew(db: honker.Database, ttl: int) -> None:
    with db.lock("l", ttl=60) as lock:
        lock.renew(ttl)


def _scheduler_add(db: honker.Database, expr: str) -> None:
    sched = honker.Scheduler(db)
    sched.add(name="s", queue="q", schedule=type("S", (), {"expr": expr})())


# -- cron in other time zones (DST gaps and overlaps) ----------------------------
def _ts(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp())


DST_EXPRS = [
    "30 2 * * *",
    "0 * * * * *",
    "*/30 * * * *",
    "0 1 * * *",
    "*/20 2 * * *",
    "59 1 * * *",
    "0 3 * * 0",
    "15 2 8 3 *",
    "0 0 * * *",
    "@every 1h",
]
DST_FROMS = [
    t
    for day in (_ts(2026, 3, 8), _ts(2026, 3, 29), _ts(2026, 10, 25), _ts(2026, 11, 1))
    for t in range(day - 6 * 3600, day + 12 * 3600, 1799)
]

PY_CRON_CHILD = r"""
import json, sys, honker
cases = json.load(sys.stdin)
db = honker.open(sys.argv[1])
out = []
for expr, frm in cases:
    try:
        with db.transaction() as tx:
            out.append(tx.query("SELECT honker_cron_next_after(?, ?) AS r", [expr, frm])[0]["r"])
    except Exception as exc:
        out.append("error: " + str(exc))
db.close()
print(json.dumps(out))
"""


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe"])
def test_cron_identical_across_dst(tz: str, spawn_node: Any, tmp_path: Path) -> None:
    cases = [(e, f) for e in DST_EXPRS for f in DST_FROMS]
    theirs = spawn_node({"TZ": tz})
    path = str(tmp_path / "tz-node.db")
    res = theirs.request(
        "txs",
        db=path,
        txs=[[{"q": "SELECT honker_cron_next_after(?, ?) AS r", "p": list(k)}] for k in cases],
    )
    expected = [r["result"][0][0]["r"] if r["ok"] else "error: " + r["error"] for r in res]
    repo = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "TZ": tz, "PYTHONPATH": repo}
    proc = subprocess.run(
        [sys.executable, "-c", PY_CRON_CHILD, str(tmp_path / "tz-py.db")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    diffs = [(k, x, y) for k, x, y in zip(cases, expected, got, strict=True) if x != y]
    assert not diffs, f"{len(diffs)} of {len(cases)} differ in {tz}: {diffs[:20]}"
