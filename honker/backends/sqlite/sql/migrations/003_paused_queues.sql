-- honker-py's own side table (not honker's): the queues an operator paused
-- (Queue.pause()). A row means paused; every claim path of this package checks
-- it (claim_top, claim and engine/queue.py). honker's native engine does not
-- know it, and honker's own tables are left exactly as they are.
-- adds-table: _honkerpy_paused
CREATE TABLE IF NOT EXISTS _honkerpy_paused (
  queue TEXT PRIMARY KEY,
  paused_at INTEGER NOT NULL DEFAULT (unixepoch())
);
