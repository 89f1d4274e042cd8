-- Locks, rate limits and the scheduler's registrations (docs/spec/engine.md §2,
-- §4.3-4.4, §4.7), with honker's table and column names in PostgreSQL's types.
-- Every time is a bigint of whole unix seconds from the server's clock.

-- A lock row with a TTL: free once expires_at <= now (coord.sql, lock_acquire).
-- The scheduler's leader election is a row of this table (docs/postgres.md).
CREATE TABLE {schema}._honker_locks (
  name text PRIMARY KEY,
  owner text NOT NULL,
  expires_at bigint NOT NULL
);

-- One row per rate limit and fixed window (window_start = now / per * per).
CREATE TABLE {schema}._honker_rate_limits (
  name text NOT NULL,
  window_start bigint NOT NULL,
  count bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (name, window_start)
);

-- enabled is 1 or 0, as in honker's SQLite format, so SQL written against
-- the table (`WHERE enabled = 1`) reads the same on both backends.
CREATE TABLE {schema}._honker_scheduler_tasks (
  name text PRIMARY KEY,
  queue text NOT NULL,
  cron_expr text NOT NULL,
  payload text NOT NULL,
  priority bigint NOT NULL DEFAULT 0,
  expires_s bigint,
  next_fire_at bigint NOT NULL,
  enabled bigint NOT NULL DEFAULT 1,
  max_attempts bigint NOT NULL DEFAULT 3
);
