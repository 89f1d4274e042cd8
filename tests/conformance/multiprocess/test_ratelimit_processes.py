"""Rate-limit counts stay exact when many processes share the window (docs/spec/python-api.md
§14.2)."""

from __future__ import annotations

from helpers import spawn_child

# A window this long cannot roll over while the test runs (windows align to
# multiples of `per` since the epoch), so "exactly LIMIT" is deterministic.
NO_ROLLOVER = 10**9
PROCESSES, ATTEMPTS, LIMIT = 8, 20, 50

CHILD = """
import sys
import honker

db = honker.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # "go": every child starts hammering at the same moment
allowed = sum(db.try_rate_limit("shared", int(sys.argv[3]), int(sys.argv[4]))
              for _ in range(int(sys.argv[2])))
print(f"allowed {allowed}", flush=True)
db.close()
"""


def test_rate_limit_is_exact_across_processes(db, db_path):
    children = [
        spawn_child(CHILD, db_path, ATTEMPTS, LIMIT, NO_ROLLOVER, timeout=30)
        for _ in range(PROCESSES)
    ]
    for child in children:
        child.send("go")
    allowed = []
    for child in children:
        line = child.readline(timeout=30)
        assert line.startswith("allowed "), line
        allowed.append(int(line.split()[1]))
        child.wait(timeout=10)
    assert sum(allowed) == LIMIT
    (row,) = db.query("SELECT count FROM _honker_rate_limits WHERE name = 'shared'")
    assert row["count"] == LIMIT
    assert db.try_rate_limit("shared", LIMIT, NO_ROLLOVER) is False
