-- Throughput history (engine/history.py): counts are kept in memory per
-- process and added here at most once a second, in a write transaction.
-- Buckets are minutes of the database clock (unixepoch()).

-- name: history_add
INSERT INTO _honkerpy_throughput (queue, minute, completed, failed, retried)
VALUES (?1, unixepoch() / 60 * 60, ?2, ?3, ?4)
ON CONFLICT (queue, minute) DO UPDATE SET
  completed = completed + excluded.completed,
  failed = failed + excluded.failed,
  retried = retried + excluded.retried;

-- name: totals_add
INSERT INTO _honkerpy_totals (queue, completed, failed, retried)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (queue) DO UPDATE SET
  completed = completed + excluded.completed,
  failed = failed + excluded.failed,
  retried = retried + excluded.retried;

-- name: history_prune
DELETE FROM _honkerpy_throughput WHERE minute < unixepoch() - ?1;

-- name: history_read
-- The minutes of ?1 from ?2 (a unix second, rounded down to its minute) on.
SELECT minute, completed, failed, retried FROM _honkerpy_throughput
 WHERE queue = ?1 AND minute >= ?2 / 60 * 60 ORDER BY minute;

-- name: history_now_minute
SELECT unixepoch() / 60 * 60;

-- name: totals_read
SELECT queue, completed, failed, retried FROM _honkerpy_totals ORDER BY queue;
