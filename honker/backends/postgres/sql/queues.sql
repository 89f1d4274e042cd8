-- The queue and result statements of the PostgreSQL backend, by name (loaded by
-- sql/__init__.py; ops/queues.py runs them).
-- `{schema}` is the configured schema; `{now}` is `{schema}.unixepoch()`, the server's
-- clock in whole seconds (one instant per transaction). Parameters are psycopg's
-- `%(name)s`, each cast to its type. Boundaries (docs/spec/engine.md §10.3): a claim
-- is valid while claim_expires_at >= now and reclaimable when < now; a row is
-- expired when expires_at <= now. Statements that change rows say what they
-- changed with RETURNING, so an operation never depends on a driver's rowcount.

-- name: now
SELECT {now};

-- name: enqueue
-- delay wins over run_at; neither means now (docs/spec/engine.md §4.2).
INSERT INTO {schema}._honker_live (queue, payload, run_at, priority, max_attempts, expires_at)
VALUES (%(queue)s::text, %(payload)s::text,
        COALESCE({now} + %(delay)s::bigint, %(run_at)s::bigint, {now}),
        %(priority)s::bigint, %(max_attempts)s::bigint, {now} + %(expires)s::bigint)
RETURNING id

-- name: enqueue_solo
-- `enqueue` as a transaction of its own, one statement in autocommit: the row
-- and the change feed's NOTIFY (as `commit` sends it) commit together, in one
-- round trip instead of BEGIN, INSERT, NOTIFY + COMMIT (backend.py,
-- write(single=True): a Queue.enqueue without tx=).
WITH job AS (
  -- include: enqueue
)
SELECT job.id FROM job, (SELECT pg_notify('honker_changes_{schema}', '')) AS tick;

-- name: claim
-- One claim pass: lock up to n candidates in claim order from each place a
-- claimable row can be (due pending rows on _honker_live_pending, expired
-- claims on _honker_live_processing_deadline), keep the first n of both, claim
-- those with attempts left and dead-letter the exhausted ones met on the way
-- ("max attempts exceeded"). SKIP LOCKED: concurrent claimers never wait for
-- each other and never get the same row. The last row always comes back, with
-- `buried` set, so a pass that only buried rows says so (the caller goes on).
-- `{n}` is a literal integer, filled in per call (sql.with_limit): with a
-- `LIMIT $n` parameter the planner's generic plan guesses 10 % of the queue,
-- so PostgreSQL never reuses it and plans this statement on every call (more
-- than its execution time); with a literal the cached plan is reused.
WITH pending AS (
  SELECT id, priority, run_at, attempts >= max_attempts AS exhausted
    FROM {schema}._honker_live
   WHERE queue = %(queue)s::text AND state = 'pending' AND run_at <= {now}
     AND (expires_at IS NULL OR expires_at > {now})
-- include: not_paused
   ORDER BY priority DESC, run_at, id
   LIMIT {n}
   FOR UPDATE SKIP LOCKED
), reclaim AS (
  SELECT id, priority, run_at, attempts >= max_attempts AS exhausted
    FROM {schema}._honker_live
   WHERE queue = %(queue)s::text AND state = 'processing' AND claim_expires_at < {now}
     AND (expires_at IS NULL OR expires_at > {now})
-- include: not_paused
   ORDER BY priority DESC, run_at, id
   LIMIT {n}
   FOR UPDATE SKIP LOCKED
), chosen AS (
  SELECT * FROM (SELECT * FROM pending UNION ALL SELECT * FROM reclaim) c
   ORDER BY priority DESC, run_at, id
   LIMIT {n}
), claimed AS (
  UPDATE {schema}._honker_live l
     SET state = 'processing', worker_id = %(worker_id)s::text,
         claim_expires_at = {now} + %(timeout_s)s::bigint, attempts = l.attempts + 1
    FROM chosen
   WHERE l.id = chosen.id AND NOT chosen.exhausted
  RETURNING l.id, l.queue, l.payload, l.worker_id, l.attempts, l.claim_expires_at,
            l.priority, l.run_at
), gone AS (
  DELETE FROM {schema}._honker_live
   WHERE id IN (SELECT id FROM chosen WHERE exhausted)
  RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at
), buried AS (
  INSERT INTO {schema}._honker_dead
    (id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at)
  SELECT id, queue, payload, priority, run_at, max_attempts, attempts,
         'max attempts exceeded', created_at
    FROM gone
  RETURNING id
)
SELECT c.id, c.queue, c.payload, c.worker_id, c.attempts, c.claim_expires_at,
       (SELECT count(*) FROM buried) AS buried
  FROM (SELECT 1) one
  LEFT JOIN claimed c ON true
 ORDER BY c.priority DESC, c.run_at, c.id;

-- name: not_paused
-- A fragment: a paused queue (Queue.pause, sql/manage.sql) claims nothing and
-- buries nothing; uncorrelated, so checked once per statement.
     AND NOT EXISTS (SELECT 1 FROM {schema}._honkerpy_paused WHERE queue = %(queue)s::text)

-- name: next_due
-- A fragment: when the next job of %(queue)s becomes claimable (NULL: none). Exhausted
-- and expired rows are ignored: nothing can claim them (docs/spec/engine.md §5.1).
LEAST(
  (SELECT run_at FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'pending' AND run_at > {now}
      AND attempts < max_attempts AND (expires_at IS NULL OR expires_at > {now})
    ORDER BY run_at LIMIT 1),
  (SELECT claim_expires_at + 1 FROM {schema}._honker_live
    WHERE queue = %(queue)s::text AND state = 'processing' AND claim_expires_at >= {now}
      AND attempts < max_attempts AND (expires_at IS NULL OR expires_at > {now})
    ORDER BY claim_expires_at LIMIT 1))

-- name: next_claim_at
SELECT COALESCE(
-- include: next_due
, 0);

-- name: next_claim_in
-- next_due in seconds from this instant of the server's clock, for the claim
-- iterator's sleep: the client's own clock never enters it.
SELECT
-- include: next_due
 - extract(epoch FROM clock_timestamp())::float8;

-- name: release_claim
-- A claim whose job never reached its consumer (a cancelled wait) undone: the
-- row as before the claim (pending, due as before, attempts restored). Only
-- our claim, still valid, made at attempt %(attempts)s.
UPDATE {schema}._honker_live
   SET state = 'pending', worker_id = NULL, claim_expires_at = NULL,
       attempts = attempts - 1
 WHERE id = %(id)s::bigint AND worker_id = %(worker_id)s::text
   AND attempts = %(attempts)s::bigint AND state = 'processing'
   AND claim_expires_at >= {now}
RETURNING id;

-- name: ack
-- RETURNING queue: the throughput history (history.py) counts per queue.
DELETE FROM {schema}._honker_live
 WHERE id = %(id)s::bigint AND worker_id = %(worker_id)s::text AND claim_expires_at >= {now}
RETURNING queue;

-- name: ack_batch
DELETE FROM {schema}._honker_live
 WHERE id = ANY(%(ids)s::bigint[]) AND worker_id = %(worker_id)s::text
   AND claim_expires_at >= {now}
RETURNING id, queue;

-- name: retry
-- Back to pending after delay_s, or to the dead letters when that was the last
-- attempt; one row back on either branch, none without a valid claim.
WITH job AS (
  SELECT id, attempts >= max_attempts AS last
    FROM {schema}._honker_live
   WHERE id = %(id)s::bigint AND worker_id = %(worker_id)s::text
     AND claim_expires_at >= {now} AND state = 'processing'
   FOR UPDATE
), requeued AS (
  UPDATE {schema}._honker_live l
     SET state = 'pending', run_at = {now} + %(delay_s)s::bigint,
         worker_id = NULL, claim_expires_at = NULL
    FROM job WHERE l.id = job.id AND NOT job.last
  RETURNING l.id, l.queue
), gone AS (
  DELETE FROM {schema}._honker_live
   WHERE id IN (SELECT id FROM job WHERE last)
  RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at
), buried AS (
  INSERT INTO {schema}._honker_dead
    (id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at)
  SELECT id, queue, payload, priority, run_at, max_attempts, attempts,
         %(error)s::text, created_at
    FROM gone
  RETURNING queue
)
-- (queue, dead): a retried job, or one that died on its last attempt.
SELECT queue, false FROM requeued UNION ALL SELECT queue, true FROM buried;

-- name: fail
WITH gone AS (
  DELETE FROM {schema}._honker_live
   WHERE id = %(id)s::bigint AND worker_id = %(worker_id)s::text
     AND claim_expires_at >= {now}
  RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at
)
INSERT INTO {schema}._honker_dead
  (id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at)
SELECT id, queue, payload, priority, run_at, max_attempts, attempts,
       %(error)s::text, created_at
  FROM gone
RETURNING id, queue;

-- name: heartbeat
UPDATE {schema}._honker_live SET claim_expires_at = {now} + %(extend_s)s::bigint
 WHERE id = %(id)s::bigint AND worker_id = %(worker_id)s::text AND state = 'processing'
   AND claim_expires_at >= {now}
RETURNING id;

-- name: cancel
DELETE FROM {schema}._honker_live
 WHERE id = %(id)s::bigint AND state IN ('pending', 'processing')
RETURNING id;

-- name: get_job
SELECT attempts, claim_expires_at, created_at, expires_at, id, max_attempts,
       payload, priority, queue, run_at, state, worker_id
  FROM {schema}._honker_live WHERE id = %(id)s::bigint;

-- name: sweep_expired
-- Expired *pending* rows to the dead letters ("expired").
WITH gone AS (
  DELETE FROM {schema}._honker_live
   WHERE queue = %(queue)s::text AND state = 'pending'
     AND expires_at IS NOT NULL AND expires_at <= {now}
  RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at
)
INSERT INTO {schema}._honker_dead
  (id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at)
SELECT id, queue, payload, priority, run_at, max_attempts, attempts, 'expired', created_at
  FROM gone
RETURNING id;

-- name: result_save
-- On conflict created_at keeps the first insert's value (docs/spec/engine.md §4.5).
INSERT INTO {schema}._honker_results (job_id, value, expires_at)
VALUES (%(job_id)s::bigint, %(value)s::text,
        CASE WHEN %(ttl_s)s::bigint > 0 THEN {now} + %(ttl_s)s::bigint END)
ON CONFLICT (job_id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
RETURNING job_id;

-- name: result_get
SELECT value FROM {schema}._honker_results
 WHERE job_id = %(job_id)s::bigint AND (expires_at IS NULL OR expires_at > {now});

-- name: result_sweep
DELETE FROM {schema}._honker_results
 WHERE expires_at IS NOT NULL AND expires_at <= {now}
RETURNING job_id;

-- name: commit
-- Every write transaction ends with this (backend.py): one NOTIFY on the schema's
-- channel, delivered at commit, if the transaction wrote anything (it has a
-- transaction id only then), then COMMIT, in one round trip. The payload is
-- empty: a tick only says "re-read", and NOTIFY payloads are capped at 8000 bytes.
SELECT pg_notify('honker_changes_{schema}', '')
 WHERE pg_current_xact_id_if_assigned() IS NOT NULL;
COMMIT;

-- name: search_path
-- Run on every new connection: honker's schema goes at the end of the session's
-- search_path, so user SQL reaches `_honker_live` and `unixepoch()` unqualified
-- while CREATE TABLE still lands in the user's own first schema.
SELECT set_config('search_path',
  CASE WHEN current_setting('search_path') = '' THEN '{schema}'
       ELSE current_setting('search_path') || ', {schema}' END, false);
