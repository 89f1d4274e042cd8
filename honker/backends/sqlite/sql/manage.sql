-- Job management: counts, listings and bulk actions on one queue
-- (honker/_manage.py through ops.py). Every statement takes the queue by name
-- and reads the clock once as unixepoch().
--
-- A payload filter `:where` is NULL (no filter) or a JSON object mapping JSON
-- paths to values, e.g. {"$.user_id": 42}; a row matches when for every key
-- json_extract(payload, key) IS the value (SQLite's JSON comparison; several
-- keys are ANDed; a JSON null matches a missing path too).

-- name: manage_stats
SELECT
  (SELECT COUNT(*) FROM _honker_live
    WHERE queue = :queue AND state = 'pending' AND run_at <= unixepoch()) AS pending,
  (SELECT COUNT(*) FROM _honker_live
    WHERE queue = :queue AND state = 'pending' AND run_at > unixepoch()) AS delayed,
  (SELECT COUNT(*) FROM _honker_live
    WHERE queue = :queue AND state = 'processing') AS processing,
  (SELECT COUNT(*) FROM _honker_dead WHERE queue = :queue) AS dead,
  (SELECT unixepoch() - MIN(run_at) FROM _honker_live
    WHERE queue = :queue AND state = 'pending' AND run_at <= unixepoch()) AS oldest_due_age_s,
  EXISTS (SELECT 1 FROM _honkerpy_paused WHERE queue = :queue) AS paused;

-- name: manage_jobs_live
SELECT id, queue, payload,
       CASE WHEN state = 'pending' AND run_at > unixepoch() THEN 'delayed' ELSE state END
         AS state,
       priority, run_at, worker_id, claim_expires_at, attempts, max_attempts, created_at,
       expires_at, NULL AS last_error, NULL AS died_at
  FROM _honker_live
 WHERE queue = :queue AND id > :after
   AND (:state IS NULL
        OR (:state = 'pending' AND state = 'pending' AND run_at <= unixepoch())
        OR (:state = 'delayed' AND state = 'pending' AND run_at > unixepoch())
        OR (:state = 'processing' AND state = 'processing'))
   AND (:where IS NULL OR NOT EXISTS (
         SELECT 1 FROM json_each(:where) AS w
          WHERE json_extract(payload, w.key) IS NOT w.value))
 ORDER BY id LIMIT :limit;

-- name: manage_jobs_dead
SELECT id, queue, payload, 'dead' AS state, priority, run_at, NULL AS worker_id,
       NULL AS claim_expires_at, attempts, max_attempts, created_at, NULL AS expires_at,
       last_error, died_at
  FROM _honker_dead
 WHERE queue = :queue AND id > :after
   AND (:where IS NULL OR NOT EXISTS (
         SELECT 1 FROM json_each(:where) AS w
          WHERE json_extract(payload, w.key) IS NOT w.value))
 ORDER BY id LIMIT :limit;

-- name: manage_dead_ids
-- The dead jobs a bulk action touches: the given ids (a JSON array, or NULL
-- for any), matching the filter, dead for more than :older_than_s seconds
-- (NULL: any), oldest id first, at most :limit (-1: no limit).
SELECT id FROM _honker_dead
 WHERE queue = :queue
   AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
   AND (:older_than_s IS NULL OR died_at < unixepoch() - :older_than_s)
   AND (:where IS NULL OR NOT EXISTS (
         SELECT 1 FROM json_each(:where) AS w
          WHERE json_extract(payload, w.key) IS NOT w.value))
 ORDER BY id LIMIT :limit;

-- name: manage_requeue
-- Dead rows back to pending, due now, attempts 0; id, payload, priority,
-- max_attempts and created_at are kept (ids are never reused). last_error has
-- no live column and is dropped.
INSERT INTO _honker_live
  (id, queue, payload, state, priority, run_at, attempts, max_attempts, created_at)
SELECT id, queue, payload, 'pending', priority, unixepoch(), 0, max_attempts, created_at
  FROM _honker_dead WHERE id IN (SELECT value FROM json_each(:ids));

-- name: manage_delete_dead
DELETE FROM _honker_dead WHERE id IN (SELECT value FROM json_each(:ids));

-- name: manage_run_now
UPDATE _honker_live SET run_at = unixepoch()
 WHERE id = :id AND queue = :queue AND state = 'pending' AND run_at > unixepoch();

-- name: manage_cancel_where
DELETE FROM _honker_live
 WHERE queue = :queue AND state = 'pending'
   AND NOT EXISTS (
         SELECT 1 FROM json_each(:where) AS w
          WHERE json_extract(payload, w.key) IS NOT w.value);

-- name: manage_cancel_pending
DELETE FROM _honker_live WHERE id = :id AND queue = :queue AND state = 'pending';
