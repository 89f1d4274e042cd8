-- Locks, rate limits and the scheduler on PostgreSQL (ops/coord.py). Every
-- time is the server's clock ({now}: the start of the transaction), never the
-- client's; parameters are psycopg's %(name)s with explicit types.

-- name: lock_acquire
-- Take the lock, or displace a holder whose row has expired (expires_at <= now);
-- the owner comes back only when this statement wrote the row. A live row of
-- any owner is left alone: the same owner re-acquiring does not refresh its
-- TTL (SQLite: delete the expired row, INSERT OR IGNORE). Two concurrent
-- acquirers of a free name serialize on the primary key; the second then
-- finds the first's live row and takes nothing.
INSERT INTO {schema}._honker_locks AS l (name, owner, expires_at)
VALUES (%(lock)s::text, %(owner)s::text, {now} + %(ttl_s)s::bigint)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
 WHERE l.expires_at <= {now}
RETURNING owner;

-- name: lock_owner
SELECT owner FROM {schema}._honker_locks WHERE name = %(lock)s::text;

-- name: lock_release
DELETE FROM {schema}._honker_locks
 WHERE name = %(lock)s::text AND owner = %(owner)s::text
RETURNING 1;

-- name: lock_renew
-- Does not check expiry, as on SQLite: an expired row not yet taken over is
-- still its owner's to renew.
UPDATE {schema}._honker_locks SET expires_at = {now} + %(ttl_s)s::bigint
 WHERE name = %(lock)s::text AND owner = %(owner)s::text
RETURNING 1;

-- name: lock_expires_at
SELECT expires_at FROM {schema}._honker_locks WHERE name = %(lock)s::text;

-- name: lock_row_now
-- The lock row and the server's clock in one read, so the scheduler leader
-- can skip a renewal that would not move expires_at (ops/coord.py, lead_step).
SELECT owner, expires_at, {now} FROM {schema}._honker_locks WHERE name = %(lock)s::text;

-- name: rate_limit_try
-- Count one call in the current fixed window; a rejected call is not counted.
-- Concurrent callers serialize on the window's row: ON CONFLICT DO UPDATE
-- locks it and re-checks `count < limit` on its newest version, so the count
-- stays exact across processes (multiprocess/test_ratelimit_processes.py).
INSERT INTO {schema}._honker_rate_limits AS r (name, window_start, count)
VALUES (%(rate_limit)s::text, ({now} / %(per_s)s::bigint) * %(per_s)s::bigint, 1)
ON CONFLICT (name, window_start) DO UPDATE SET count = r.count + 1
 WHERE r.count < %(limit)s::bigint
RETURNING 1;

-- name: rate_limit_sweep
WITH swept AS (
  DELETE FROM {schema}._honker_rate_limits
   WHERE window_start < {now} - %(older_than_s)s::bigint
  RETURNING 1)
SELECT count(*) FROM swept;

-- name: rate_limit_rows
-- The newest window of each rate limit (the overview).
SELECT DISTINCT ON (name) name, window_start, count
  FROM {schema}._honker_rate_limits
 ORDER BY name, window_start DESC;

-- name: lock_rows
SELECT name, owner, expires_at FROM {schema}._honker_locks ORDER BY name;

-- name: scheduler_register
-- enabled is not in the update list: re-registering a paused schedule leaves it paused.
INSERT INTO {schema}._honker_scheduler_tasks
  (name, queue, cron_expr, payload, priority, expires_s, next_fire_at, max_attempts)
VALUES (%(task)s::text, %(queue)s::text, %(cron_expr)s::text, %(payload)s::text,
        %(priority)s::bigint, %(expires_s)s::bigint, %(next_fire_at)s::bigint,
        %(max_attempts)s::bigint)
ON CONFLICT (name) DO UPDATE SET
  queue = excluded.queue, cron_expr = excluded.cron_expr, payload = excluded.payload,
  priority = excluded.priority, expires_s = excluded.expires_s,
  next_fire_at = excluded.next_fire_at, max_attempts = excluded.max_attempts;

-- name: scheduler_unregister
DELETE FROM {schema}._honker_scheduler_tasks WHERE name = %(task)s::text RETURNING 1;

-- name: scheduler_pause
UPDATE {schema}._honker_scheduler_tasks SET enabled = 0
 WHERE name = %(task)s::text AND enabled = 1
RETURNING 1;

-- name: scheduler_resume
UPDATE {schema}._honker_scheduler_tasks SET enabled = 1
 WHERE name = %(task)s::text AND enabled = 0
RETURNING 1;

-- name: scheduler_exists
SELECT 1 FROM {schema}._honker_scheduler_tasks WHERE name = %(task)s::text;

-- name: scheduler_update
-- Only the given fields change (a NULL keeps the column; the touch_* flags say
-- whether expires_s / max_attempts were given, since NULL is a value there).
-- One statement: an error leaves the row as it was.
UPDATE {schema}._honker_scheduler_tasks SET
  cron_expr = COALESCE(%(cron_expr)s::text, cron_expr),
  next_fire_at = COALESCE(%(next_fire_at)s::bigint, next_fire_at),
  payload = COALESCE(%(payload)s::text, payload),
  priority = COALESCE(%(priority)s::bigint, priority),
  expires_s = CASE WHEN %(touch_expires)s::boolean THEN %(expires_s)s::bigint
                   ELSE expires_s END,
  max_attempts = CASE WHEN %(touch_max_attempts)s::boolean THEN %(max_attempts)s::bigint
                      ELSE max_attempts END
 WHERE name = %(task)s::text
RETURNING 1;

-- name: scheduler_list
-- Columns in SCHEDULE_COLUMNS order (honker/backends/base.py).
SELECT cron_expr, enabled, expires_s, COALESCE(max_attempts, 3) AS max_attempts,
       name, next_fire_at, payload, priority, queue
  FROM {schema}._honker_scheduler_tasks ORDER BY name;

-- name: scheduler_rows
-- The overview's and `honker schedules`' rows (sqlite/inspect.py, schedules).
SELECT name, queue, cron_expr, enabled, next_fire_at, priority, expires_s, max_attempts
  FROM {schema}._honker_scheduler_tasks ORDER BY name;

-- name: scheduler_count
SELECT count(*) FROM {schema}._honker_scheduler_tasks;

-- name: scheduler_due
-- The rows a tick fires, locked until its commit. A concurrent tick (another
-- leader's last tick, Scheduler.tick() beside a leader) waits for the lock and
-- then re-checks `next_fire_at <= now` on the row's newest version, which the
-- first tick has moved past the boundaries it fired: nothing fires twice.
-- Locked in name order, so two tickers never deadlock.
SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at,
       COALESCE(max_attempts, 3)
  FROM {schema}._honker_scheduler_tasks
 WHERE next_fire_at <= %(now)s::bigint AND enabled = 1
 ORDER BY name
   FOR UPDATE;

-- name: scheduler_set_next
UPDATE {schema}._honker_scheduler_tasks SET next_fire_at = %(next_fire_at)s::bigint
 WHERE name = %(task)s::text;

-- name: scheduler_soonest
SELECT COALESCE(min(next_fire_at), 0) FROM {schema}._honker_scheduler_tasks WHERE enabled = 1;
