-- Job management on PostgreSQL (ops/manage.py): counts, listings, bulk
-- actions, pause, the throughput history and the overview. Statements take
-- the queue by name; `{now}` is the server's clock (one instant per transaction).
--
-- A payload filter is %(paths)s / %(vals)s: NULL (no filter) or parallel
-- arrays of `strict` JSON paths and JSON values (ops/manage.py builds them from
-- honker's {"$.path": value} object); _honkerpy_where (migrations/004) says
-- whether a payload matches, with SQLite's JSON comparison.

-- name: where_filter
-- A fragment: the payload filter, ANDed into a WHERE clause.
(%(paths)s::text[] IS NULL
 OR {schema}._honkerpy_where(payload, %(paths)s::text[]::jsonpath[], %(vals)s::text[]::jsonb[]))

-- name: manage_stats
SELECT
  (SELECT count(*) FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'pending' AND run_at <= {now}) AS pending,
  (SELECT count(*) FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'pending' AND run_at > {now}) AS delayed,
  (SELECT count(*) FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'processing') AS processing,
  (SELECT count(*) FROM {schema}._honker_dead WHERE queue = %(queue)s::text) AS dead,
  (SELECT {now} - min(run_at) FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'pending' AND run_at <= {now}) AS oldest_due_age_s,
  EXISTS (SELECT 1 FROM {schema}._honkerpy_paused WHERE queue = %(queue)s::text) AS paused;

-- name: manage_jobs_live
SELECT id, queue, payload,
       CASE WHEN state = 'pending' AND run_at > {now} THEN 'delayed' ELSE state END AS state,
       priority, run_at, worker_id, claim_expires_at, attempts, max_attempts, created_at,
       expires_at, NULL::text AS last_error, NULL::bigint AS died_at
  FROM {schema}._honker_live
 WHERE queue = %(queue)s::text AND id > %(after)s::bigint
   AND (%(state)s::text IS NULL
        OR (%(state)s::text = 'pending' AND state = 'pending' AND run_at <= {now})
        OR (%(state)s::text = 'delayed' AND state = 'pending' AND run_at > {now})
        OR (%(state)s::text = 'processing' AND state = 'processing'))
   AND
-- include: where_filter
 ORDER BY id LIMIT %(limit)s::bigint;

-- name: manage_jobs_dead
SELECT id, queue, payload, 'dead' AS state, priority, run_at, NULL::text AS worker_id,
       NULL::bigint AS claim_expires_at, attempts, max_attempts, created_at,
       NULL::bigint AS expires_at, last_error, died_at
  FROM {schema}._honker_dead
 WHERE queue = %(queue)s::text AND id > %(after)s::bigint
   AND
-- include: where_filter
 ORDER BY id LIMIT %(limit)s::bigint;

-- name: manage_dead_ids
-- The dead jobs a bulk action touches: the given ids (NULL: any), matching the
-- filter, dead for more than older_than_s seconds (NULL: any), oldest id
-- first, at most limit (NULL: no limit).
SELECT id FROM {schema}._honker_dead
 WHERE queue = %(queue)s::text
   AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
   AND (%(older_than_s)s::bigint IS NULL OR died_at < {now} - %(older_than_s)s::bigint)
   AND
-- include: where_filter
 ORDER BY id LIMIT %(limit)s::bigint;

-- name: manage_requeue
-- Dead rows back to pending, due now, attempts 0, in one statement; id,
-- payload, priority, max_attempts and created_at are kept (ids are never
-- reused). last_error has no live column and is dropped. A row another
-- transaction requeued or deleted first is not there any more: not counted.
WITH gone AS (
  DELETE FROM {schema}._honker_dead WHERE id = ANY(%(ids)s::bigint[])
  RETURNING id, queue, payload, priority, max_attempts, created_at
)
INSERT INTO {schema}._honker_live
  (id, queue, payload, state, priority, run_at, attempts, max_attempts, created_at)
SELECT id, queue, payload, 'pending', priority, {now}, 0, max_attempts, created_at FROM gone
RETURNING id;

-- name: manage_delete_dead
DELETE FROM {schema}._honker_dead WHERE id = ANY(%(ids)s::bigint[]) RETURNING id;

-- name: manage_run_now
UPDATE {schema}._honker_live SET run_at = {now}
 WHERE id = %(id)s::bigint AND queue = %(queue)s::text AND state = 'pending' AND run_at > {now}
RETURNING id;

-- name: manage_cancel_where
-- A row claimed meanwhile by another transaction is re-checked after its lock
-- (state is no longer 'pending') and left alone.
DELETE FROM {schema}._honker_live
 WHERE queue = %(queue)s::text AND state = 'pending' AND
-- include: where_filter
RETURNING id;

-- name: manage_cancel_pending
DELETE FROM {schema}._honker_live
 WHERE id = %(id)s::bigint AND queue = %(queue)s::text AND state = 'pending'
RETURNING id;

-- name: queue_pause
INSERT INTO {schema}._honkerpy_paused (queue) VALUES (%(queue)s::text)
ON CONFLICT (queue) DO NOTHING
RETURNING queue;

-- name: queue_resume
DELETE FROM {schema}._honkerpy_paused WHERE queue = %(queue)s::text RETURNING queue;

-- name: queue_paused
SELECT EXISTS (SELECT 1 FROM {schema}._honkerpy_paused WHERE queue = %(queue)s::text);

-- Throughput history (history.py): counts are kept in memory per process and
-- added here at most once a second, inside a committing write transaction.
-- Buckets are minutes of the server's clock.

-- name: history_add
INSERT INTO {schema}._honkerpy_throughput AS t (queue, minute, completed, failed, retried)
VALUES (%(queue)s::text, {now} / 60 * 60, %(completed)s::bigint, %(failed)s::bigint,
        %(retried)s::bigint)
ON CONFLICT (queue, minute) DO UPDATE SET
  completed = t.completed + excluded.completed,
  failed = t.failed + excluded.failed,
  retried = t.retried + excluded.retried;

-- name: totals_add
INSERT INTO {schema}._honkerpy_totals AS t (queue, completed, failed, retried)
VALUES (%(queue)s::text, %(completed)s::bigint, %(failed)s::bigint, %(retried)s::bigint)
ON CONFLICT (queue) DO UPDATE SET
  completed = t.completed + excluded.completed,
  failed = t.failed + excluded.failed,
  retried = t.retried + excluded.retried;

-- name: history_prune
DELETE FROM {schema}._honkerpy_throughput WHERE minute < {now} - %(keep_s)s::bigint;

-- name: history_read
-- The current minute with each counted minute of the queue's last `minutes`
-- (one row with NULLs when none): one statement, so one instant of the clock.
SELECT n.now_minute, t.minute, t.completed, t.failed, t.retried
  FROM (SELECT {now} / 60 * 60 AS now_minute) n
  LEFT JOIN {schema}._honkerpy_throughput t
    ON t.queue = %(queue)s::text AND t.minute >= n.now_minute - 60 * (%(minutes)s::bigint - 1)
 ORDER BY t.minute;

-- name: totals_read
SELECT queue, completed, failed, retried FROM {schema}._honkerpy_totals ORDER BY queue;

-- The overview (ops/manage.py, overview; `honker queues`, `honker metrics`,
-- the dashboard). Counts read the partial indexes of 001_queues (pending and
-- processing rows by queue) and _honker_dead_queue, never the whole table.

-- name: overview_rows
-- Every part of the queues' overview in one statement (one snapshot, as
-- SQLite's read transaction): (part, queue, a, b, c). pending: a = due,
-- b = delayed, c = the oldest run_at, from the partial index
-- _honker_live_pending_deadline (queue, run_at) alone; processing and dead:
-- a = the count; totals: a, b, c = completed, failed, retried; now: a.
-- `(SELECT {now})` is an InitPlan, read once: the clock function written
-- inline would be called for every row (3x slower at 1M pending jobs).
SELECT 'pending' AS part, queue, count(*) FILTER (WHERE run_at <= (SELECT {now})) AS a,
       count(*) FILTER (WHERE run_at > (SELECT {now})) AS b, min(run_at) AS c
  FROM {schema}._honker_live WHERE state = 'pending' GROUP BY queue
UNION ALL
SELECT 'processing', queue, count(*), NULL, NULL
  FROM {schema}._honker_live WHERE state = 'processing' GROUP BY queue
UNION ALL
SELECT 'dead', queue, count(*), NULL, NULL FROM {schema}._honker_dead GROUP BY queue
UNION ALL
SELECT 'paused', queue, NULL, NULL, NULL FROM {schema}._honkerpy_paused
UNION ALL
SELECT 'totals', queue, completed, failed, retried FROM {schema}._honkerpy_totals
UNION ALL
SELECT 'now', NULL, {now}, NULL, NULL;

-- name: dead_letters
-- The newest dead rows of a queue (`honker dead`).
SELECT id, queue, attempts, max_attempts, died_at, last_error, payload
  FROM {schema}._honker_dead WHERE queue = %(queue)s::text
 ORDER BY died_at DESC, id DESC LIMIT %(limit)s::bigint;

-- name: inspect_tables
-- The tables of a schema (the read-only inspector checks what it will read).
SELECT c.relname FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s::text AND c.relkind IN ('r', 'p');
