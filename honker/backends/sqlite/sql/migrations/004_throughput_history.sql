-- honker-py's own side tables (not honker's): completed, failed and retried
-- jobs per queue per minute (kept 48 h), and all-time totals per queue, as
-- counted by this package's acks, retries, fails and dead-lettering
-- (engine/history.py). Jobs handled by honker's native engine are not counted.
-- adds-table: _honkerpy_throughput
CREATE TABLE IF NOT EXISTS _honkerpy_throughput (
  queue TEXT NOT NULL,
  minute INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  retried INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, minute)
);
CREATE TABLE IF NOT EXISTS _honkerpy_totals (
  queue TEXT PRIMARY KEY,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  retried INTEGER NOT NULL DEFAULT 0
);
