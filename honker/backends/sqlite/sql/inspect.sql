-- Read-only inspection for the CLI (honker/backends/sqlite/inspect.py).
-- "now" is SQLite's unixepoch(), the engine's clock.

-- name: inspect_tables
SELECT name FROM sqlite_master WHERE type = 'table';

-- name: inspect_pending_totals
-- Index-only (the partial index _honker_live_pending_deadline): every pending
-- job of each queue, due or delayed. inspect.py splits them with
-- inspect_delayed_count, a range search, so 1M jobs count in one index pass.
SELECT queue, COUNT(*) FROM _honker_live WHERE state = 'pending' GROUP BY queue;

-- name: inspect_processing_counts
SELECT queue, COUNT(*) FROM _honker_live WHERE state = 'processing' GROUP BY queue;

-- name: inspect_delayed_count
SELECT COUNT(*) FROM _honker_live
 WHERE queue = :queue AND state = 'pending' AND run_at > :now;

-- name: inspect_oldest_run_at
-- The smallest run_at of the queue's pending jobs: one index seek.
SELECT MIN(run_at) FROM _honker_live WHERE queue = :queue AND state = 'pending';

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

-- name: inspect_paused
SELECT queue FROM _honkerpy_paused;

-- name: inspect_totals
SELECT queue, completed, failed, retried FROM _honkerpy_totals;

-- name: inspect_locks
SELECT name, owner, expires_at FROM _honker_locks ORDER BY name;

-- name: inspect_rate_limits
-- The newest window of each rate limit.
SELECT name, window_start, count FROM _honker_rate_limits AS r
 WHERE window_start = (SELECT MAX(window_start) FROM _honker_rate_limits WHERE name = r.name)
 ORDER BY name;
