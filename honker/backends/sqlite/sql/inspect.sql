-- Read-only inspection for the CLI (honker/backends/sqlite/inspect.py).
-- "now" is SQLite's unixepoch(), the engine's clock.

-- name: inspect_tables
SELECT name FROM sqlite_master WHERE type = 'table';

-- name: inspect_queue_counts
-- pending (due), processing and delayed (pending, not yet due): disjoint.
SELECT queue,
       SUM(state = 'pending' AND run_at <= :now),
       SUM(state = 'processing'),
       SUM(state = 'pending' AND run_at > :now)
  FROM _honker_live GROUP BY queue;

-- name: inspect_dead_counts
SELECT queue, COUNT(*) FROM _honker_dead GROUP BY queue;

-- name: inspect_dead_letters
SELECT id, queue, attempts, max_attempts, died_at, last_error, payload
  FROM _honker_dead WHERE queue = ?
 ORDER BY died_at DESC, id DESC LIMIT ?;

-- name: inspect_topics
SELECT topic, MAX("offset"), COUNT(*) FROM _honker_stream GROUP BY topic;

-- name: inspect_consumers
SELECT topic, name, "offset" FROM _honker_stream_consumers ORDER BY topic, name;

-- name: inspect_lag
SELECT COUNT(*) FROM _honker_stream WHERE topic = ? AND "offset" > ?;

-- name: inspect_schedules
SELECT name, queue, cron_expr, enabled, next_fire_at, priority, expires_s, max_attempts
  FROM _honker_scheduler_tasks ORDER BY name;

-- name: inspect_oldest_due
SELECT queue, unixepoch() - MIN(run_at) FROM _honker_live
 WHERE state = 'pending' AND run_at <= unixepoch() GROUP BY queue;

-- name: inspect_paused
SELECT queue FROM _honkerpy_paused;

-- name: inspect_totals
SELECT queue, completed, failed, retried FROM _honkerpy_totals;
