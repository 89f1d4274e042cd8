-- Every statement honker runs, by name (loaded by honker/backends/sqlite/sql/__init__.py).
-- Time is always SQLite's unixepoch(), the clock every other process and
-- every other honker binding compares against (docs/spec/engine.md §3).
-- Boundaries (docs/spec/engine.md §10.3): a claim is valid while claim_expires_at >= now
-- and reclaimable when < now; a row is expired when expires_at <= now.

-- name: notify
INSERT INTO _honker_notifications (channel, payload) VALUES (?1, ?2);

-- name: notify_max_id
SELECT COALESCE(MAX(id), 0) FROM _honker_notifications WHERE channel = ?1;

-- name: notify_since
SELECT id, channel, payload, created_at FROM _honker_notifications
 WHERE channel = ?1 AND id > ?2 ORDER BY id;

-- name: notify_prune
DELETE FROM _honker_notifications
 WHERE (?1 IS NOT NULL AND created_at < unixepoch() - ?1)
    OR (?2 IS NOT NULL AND id <= (SELECT id FROM _honker_notifications
                                   ORDER BY id DESC LIMIT 1 OFFSET ?2));

-- name: enqueue
-- delay wins over run_at; neither means now (docs/spec/engine.md §4.2). honker adds
-- now + delay and now + expires in Rust i64, which wraps around on overflow,
-- where SQLite would make a REAL: a sum past 2^63-1 is wrapped the same way.
INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts, expires_at)
VALUES (?1, ?2,
  COALESCE(CASE WHEN ?4 > 9223372036854775807 - unixepoch()
                THEN ?4 - 9223372036854775807 + unixepoch() - 9223372036854775807 - 2
                ELSE unixepoch() + ?4 END, ?3, unixepoch()),
  ?5, ?6,
  CASE WHEN ?7 > 9223372036854775807 - unixepoch()
       THEN ?7 - 9223372036854775807 + unixepoch() - 9223372036854775807 - 2
       ELSE unixepoch() + ?7 END);

-- Dead-lettering of exhausted claimable rows (docs/spec/engine.md §4.2 step 1), in one
-- statement whose every branch is an index range, never a scan of the queue;
-- honker/backends/sqlite/engine/queue.py (Watermarks) explains why this finds the same rows.
-- The outer terms repeat honker's predicate for every candidate.

-- name: deadletter_since
DELETE FROM _honker_live
 WHERE id IN (
   -- processing rows whose claim ran out (_honker_live_processing_deadline)
   SELECT id FROM _honker_live
    WHERE queue = ?1 AND state = 'processing' AND claim_expires_at < unixepoch()
   UNION ALL
   -- rows inserted since the last pass (a rowid range; `+` keeps the
   -- planner from preferring a range over the whole queue)
   SELECT id FROM _honker_live WHERE id > ?2 AND +queue = ?1 AND +state = 'pending'
   UNION ALL
   -- pending rows that became due since the last pass (_honker_live_pending_deadline)
   SELECT id FROM _honker_live
    WHERE queue = ?1 AND state = 'pending' AND run_at > ?3 AND run_at <= unixepoch())
   AND attempts >= max_attempts
   AND (expires_at IS NULL OR expires_at > unixepoch())
   AND ((state = 'pending' AND run_at <= unixepoch())
        OR (state = 'processing' AND claim_expires_at < unixepoch()))
RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at;

-- name: deadletter_all
-- honker's own pass over the whole queue; run on a queue's first claim in a
-- connection and then every FULL_PASS_EVERY_S.
DELETE FROM _honker_live
 WHERE queue = ?1
   AND state IN ('pending', 'processing')
   AND attempts >= max_attempts
   AND (expires_at IS NULL OR expires_at > unixepoch())
   AND ((state = 'pending' AND run_at <= unixepoch())
        OR (state = 'processing' AND claim_expires_at < unixepoch()))
RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at;

-- name: pass_marks
-- A fragment (a list of result columns): the new watermark (now, the
-- AUTOINCREMENT counter) and whether deadletter_since, given the same ?1 and
-- ?5/?6 (the last pass's counter and now), would bury anything: the same three
-- index ranges, each probed for one row. It usually finds none, and the probe
-- is cheaper than the DELETE. With ?5 = ?6 = the largest integer only the
-- processing range is probed (a full pass is due). Uncorrelated, so SQLite
-- evaluates each term once per statement, also in a RETURNING clause.
unixepoch(), COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '_honker_live'), 0),
EXISTS (SELECT 1 FROM _honker_live
         WHERE queue = ?1 AND state = 'processing' AND claim_expires_at < unixepoch()
           AND attempts >= max_attempts
           AND (expires_at IS NULL OR expires_at > unixepoch()))
OR EXISTS (SELECT 1 FROM _honker_live
            WHERE id > ?5 AND +queue = ?1 AND +state = 'pending' AND run_at <= unixepoch()
              AND attempts >= max_attempts
              AND (expires_at IS NULL OR expires_at > unixepoch()))
OR EXISTS (SELECT 1 FROM _honker_live
            WHERE queue = ?1 AND state = 'pending' AND run_at > ?6 AND run_at <= unixepoch()
              AND attempts >= max_attempts
              AND (expires_at IS NULL OR expires_at > unixepoch()))

-- name: claim_marks
-- pass_marks on its own, for a claim that found nothing to claim. Bound like
-- claim_top: ?2-?4 are not used.
SELECT
-- include: pass_marks
;

-- name: insert_dead
INSERT INTO _honker_dead
  (id, queue, payload, priority, run_at, max_attempts, attempts, last_error, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);

-- name: claim_candidates
-- One page of claim candidates, in claim order, within one priority level: the
-- highest level <= ?2 that has live rows. A level's claimable rows are a prefix
-- of its part of _honker_live_claim (run_at <= now), so the scan never walks
-- delayed rows, and levels are visited by index seeks (a skip-scan done in
-- Python; honker's single UPDATE walks every delayed row of a higher
-- priority). Exhausted rows are returned too, flagged, so the claim buries
-- them as it meets them. (?3, ?4) is the (run_at, id) of the previous page.
SELECT id, priority, run_at, attempts >= max_attempts FROM _honker_live
 WHERE queue = ?1 AND state IN ('pending', 'processing')
   AND priority = (SELECT priority FROM _honker_live
                    WHERE queue = ?1 AND state IN ('pending', 'processing') AND priority <= ?2
                    ORDER BY priority DESC LIMIT 1)
   AND (run_at, id) > (?3, ?4) AND run_at <= unixepoch()
   AND (expires_at IS NULL OR expires_at > unixepoch())
   AND ((state = 'pending' AND run_at <= unixepoch())
        OR (state = 'processing' AND claim_expires_at < unixepoch()))
 ORDER BY run_at, id
 LIMIT ?5;

-- name: claim_top
-- The common case in one statement: claim up to ?4 rows of the highest
-- priority level, in claim order (the claim_candidates page as a subquery),
-- and return pass_marks (the dead-letter probe) with each row. Exhausted
-- candidates are left alone here; when fewer than ?4 rows come back the claim
-- goes on with claim_candidates, which buries them and walks lower levels.
-- queue and worker_id are not returned: they are ?1 and ?2 (each TEXT value
-- read back is a Python call of the connection's text factory).
UPDATE _honker_live
   SET state = 'processing', worker_id = ?2,
       claim_expires_at = unixepoch() + ?3, attempts = attempts + 1
 WHERE id IN (
   SELECT id FROM _honker_live
    WHERE queue = ?1 AND state IN ('pending', 'processing')
      AND priority = (SELECT priority FROM _honker_live
                       WHERE queue = ?1 AND state IN ('pending', 'processing')
                       ORDER BY priority DESC LIMIT 1)
      AND run_at <= unixepoch()
      AND (expires_at IS NULL OR expires_at > unixepoch())
      AND ((state = 'pending' AND run_at <= unixepoch())
           OR (state = 'processing' AND claim_expires_at < unixepoch()))
    ORDER BY run_at, id
    LIMIT ?4)
   AND attempts < max_attempts
   -- a paused queue (Queue.pause) claims nothing; uncorrelated: checked once
   AND NOT EXISTS (SELECT 1 FROM _honkerpy_paused WHERE queue = ?1)
RETURNING id, payload, attempts, claim_expires_at,
-- include: pass_marks
;

-- name: claim_level
SELECT priority FROM _honker_live
 WHERE queue = ?1 AND state IN ('pending', 'processing') AND priority <= ?2
 ORDER BY priority DESC LIMIT 1;

-- name: claim_ids
-- Re-checks honker's predicate, so a row that stopped being claimable since
-- it was picked (a second boundary passed) is left alone.
UPDATE _honker_live
   SET state = 'processing', worker_id = ?2,
       claim_expires_at = unixepoch() + ?3, attempts = attempts + 1
 WHERE id IN (SELECT value FROM json_each(?1))
   AND attempts < max_attempts
   AND (expires_at IS NULL OR expires_at > unixepoch())
   AND ((state = 'pending' AND run_at <= unixepoch())
        OR (state = 'processing' AND claim_expires_at < unixepoch()))
RETURNING id, queue, payload, worker_id, attempts, claim_expires_at;

-- name: deadletter_ids
DELETE FROM _honker_live
 WHERE id IN (SELECT value FROM json_each(?1))
   AND attempts >= max_attempts
   AND (expires_at IS NULL OR expires_at > unixepoch())
   AND ((state = 'pending' AND run_at <= unixepoch())
        OR (state = 'processing' AND claim_expires_at < unixepoch()))
RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at;

-- name: claim
-- honker's claim in one statement; used for n < 0 (no limit), where every
-- claimable row is taken anyway.
UPDATE _honker_live
   SET state = 'processing', worker_id = ?2,
       claim_expires_at = unixepoch() + ?4, attempts = attempts + 1
 WHERE id IN (
   SELECT id FROM _honker_live
    WHERE queue = ?1
      AND state IN ('pending', 'processing')
      AND attempts < max_attempts
      AND (expires_at IS NULL OR expires_at > unixepoch())
      AND ((state = 'pending' AND run_at <= unixepoch())
           OR (state = 'processing' AND claim_expires_at < unixepoch()))
    ORDER BY priority DESC, run_at ASC, id ASC
    LIMIT ?3)
   AND NOT EXISTS (SELECT 1 FROM _honkerpy_paused WHERE queue = ?1)
RETURNING id, queue, payload, worker_id, attempts, claim_expires_at;

-- name: release_claim
-- A claim whose job never reached its consumer (a cancelled wait) undone: the
-- row as before the claim (pending, due as before, attempts restored; a claim
-- taken over from an expired one comes back pending too, claimable all the
-- same). Only our claim, still valid, made at attempt ?3. The row has attempts
-- left (the claim required it), so no dead-letter pass needs to see it.
UPDATE _honker_live
   SET state = 'pending', worker_id = NULL, claim_expires_at = NULL,
       attempts = attempts - 1
 WHERE id = ?1 AND worker_id = ?2 AND attempts = ?3 AND state = 'processing'
   AND claim_expires_at >= unixepoch();

-- name: ack
-- RETURNING queue: the throughput counters (engine/history.py) count per queue.
DELETE FROM _honker_live
 WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= unixepoch()
RETURNING queue;

-- name: ack_in_queue
-- ack when the caller knows the job's queue (?3): the same row or none, and
-- no RETURNING, which SQLite materialises in a temporary table (a tenth of a
-- claim + ack cycle; docs/performance.md). A row of another queue is left
-- alone here and acked by `ack`.
DELETE FROM _honker_live
 WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= unixepoch() AND queue = ?3;

-- name: ack_batch
DELETE FROM _honker_live
 WHERE id IN (SELECT value FROM json_each(?1))
   AND worker_id = ?2 AND claim_expires_at >= unixepoch()
RETURNING id, queue;

-- name: retry_select
SELECT id, queue, payload, priority, run_at, max_attempts, attempts, created_at
  FROM _honker_live
 WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= unixepoch()
   AND state = 'processing';

-- name: delete_live
DELETE FROM _honker_live WHERE id = ?1;

-- name: retry_requeue
UPDATE _honker_live
   SET state = 'pending', run_at = unixepoch() + ?2,
       worker_id = NULL, claim_expires_at = NULL
 WHERE id = ?1;

-- name: fail
DELETE FROM _honker_live
 WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= unixepoch()
RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at;

-- name: heartbeat
UPDATE _honker_live SET claim_expires_at = unixepoch() + ?3
 WHERE id = ?1 AND worker_id = ?2 AND state = 'processing'
   AND claim_expires_at >= unixepoch();

-- name: cancel
DELETE FROM _honker_live WHERE id = ?1 AND state IN ('pending', 'processing');

-- name: get_job
SELECT attempts, claim_expires_at, created_at, expires_at, id, max_attempts,
       payload, priority, queue, run_at, state, worker_id
  FROM _honker_live WHERE id = ?1;

-- name: next_claim_at
-- Exhausted rows are ignored: nothing can claim them (docs/spec/engine.md §5.1).
SELECT COALESCE(MIN(t), 0) FROM (
  SELECT * FROM (
    SELECT run_at AS t FROM _honker_live
     WHERE queue = ?1 AND state = 'pending' AND run_at > unixepoch()
       AND attempts < max_attempts
       AND (expires_at IS NULL OR expires_at > unixepoch())
     ORDER BY run_at LIMIT 1)
  UNION ALL
  SELECT * FROM (
    SELECT claim_expires_at + 1 AS t FROM _honker_live
     WHERE queue = ?1 AND state = 'processing' AND claim_expires_at >= unixepoch()
       AND attempts < max_attempts
       AND (expires_at IS NULL OR expires_at > unixepoch())
     ORDER BY claim_expires_at LIMIT 1));

-- name: sweep_expired
DELETE FROM _honker_live
 WHERE queue = ?1 AND state = 'pending'
   AND expires_at IS NOT NULL AND expires_at <= unixepoch()
RETURNING id, queue, payload, priority, run_at, max_attempts, attempts, created_at;

-- name: lock_delete_expired
DELETE FROM _honker_locks WHERE name = ?1 AND expires_at <= unixepoch();

-- name: lock_insert
INSERT OR IGNORE INTO _honker_locks (name, owner, expires_at)
VALUES (?1, ?2, unixepoch() + ?3);

-- name: lock_owner
SELECT owner FROM _honker_locks WHERE name = ?1;

-- name: lock_release
DELETE FROM _honker_locks WHERE name = ?1 AND owner = ?2;

-- name: lock_renew
UPDATE _honker_locks SET expires_at = unixepoch() + ?3 WHERE name = ?1 AND owner = ?2;

-- name: rate_limit_try
INSERT INTO _honker_rate_limits (name, window_start, count)
VALUES (?1, (unixepoch() / ?2) * ?2, 1)
ON CONFLICT (name, window_start) DO UPDATE SET count = count + 1 WHERE count < ?3;

-- name: rate_limit_sweep
DELETE FROM _honker_rate_limits WHERE window_start < unixepoch() - ?1;

-- name: result_save
-- On conflict created_at keeps the first insert's value (docs/spec/engine.md §4.5).
INSERT INTO _honker_results (job_id, value, expires_at)
VALUES (?1, ?2, CASE WHEN ?3 > 0 THEN unixepoch() + ?3 END)
ON CONFLICT (job_id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at;

-- name: result_get
-- An expires_at honker cannot read as an i64 (a REAL from a ttl past 2^63 s)
-- makes the result absent there, so here too.
SELECT value FROM _honker_results
 WHERE job_id = ?1
   AND (expires_at IS NULL OR (typeof(expires_at) = 'integer' AND expires_at > unixepoch()));

-- name: result_sweep
DELETE FROM _honker_results WHERE expires_at IS NOT NULL AND expires_at <= unixepoch();

-- name: stream_publish
INSERT INTO _honker_stream (topic, key, payload) VALUES (?1, ?2, ?3);

-- name: stream_read_since
SELECT created_at, key, offset, payload, topic FROM _honker_stream
 WHERE topic = ?1 AND offset > ?2 ORDER BY offset ASC LIMIT ?3;

-- name: stream_save_offset
INSERT INTO _honker_stream_consumers (name, topic, offset) VALUES (?1, ?2, ?3)
ON CONFLICT (name, topic) DO UPDATE SET offset = excluded.offset
 WHERE excluded.offset > _honker_stream_consumers.offset;

-- name: stream_get_offset
SELECT offset FROM _honker_stream_consumers WHERE name = ?1 AND topic = ?2;

-- name: scheduler_register
INSERT INTO _honker_scheduler_tasks
  (name, queue, cron_expr, payload, priority, expires_s, next_fire_at, max_attempts)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (name) DO UPDATE SET
  queue = excluded.queue, cron_expr = excluded.cron_expr, payload = excluded.payload,
  priority = excluded.priority, expires_s = excluded.expires_s,
  next_fire_at = excluded.next_fire_at, max_attempts = excluded.max_attempts;

-- name: scheduler_unregister
DELETE FROM _honker_scheduler_tasks WHERE name = ?1;

-- name: scheduler_pause
UPDATE _honker_scheduler_tasks SET enabled = 0 WHERE name = ?1 AND enabled = 1;

-- name: scheduler_resume
UPDATE _honker_scheduler_tasks SET enabled = 1 WHERE name = ?1 AND enabled = 0;

-- name: scheduler_soonest
SELECT COALESCE(MIN(next_fire_at), 0) FROM _honker_scheduler_tasks WHERE enabled = 1;

-- name: scheduler_list
SELECT cron_expr, enabled, expires_s, COALESCE(max_attempts, 3) AS max_attempts,
       name, next_fire_at, payload, priority, queue
  FROM _honker_scheduler_tasks ORDER BY name;

-- name: scheduler_exists
SELECT 1 FROM _honker_scheduler_tasks WHERE name = ?1;

-- name: scheduler_due
SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at,
       COALESCE(max_attempts, 3)
  FROM _honker_scheduler_tasks WHERE next_fire_at <= ?1 AND enabled = 1;

-- name: scheduler_set_next
UPDATE _honker_scheduler_tasks SET next_fire_at = ?2 WHERE name = ?1;

-- name: now
SELECT unixepoch();

-- name: lock_expires_at
SELECT expires_at FROM _honker_locks WHERE name = ?1;

-- name: lock_row_now
-- The lock row and SQLite's clock in one read, so the scheduler leader can
-- skip a renewal that would not move expires_at (ops.py, lead_step).
SELECT owner, expires_at, unixepoch() FROM _honker_locks WHERE name = ?1;

-- name: scheduler_count
SELECT COUNT(*) FROM _honker_scheduler_tasks;

-- name: column_exists
SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2;

-- name: table_exists
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1;

-- name: index_exists
SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1;

-- name: claim_anything
-- After a claim_top that claimed nothing, run on its own (autocommit): is there
-- a row any claim could take or bury now, a due pending row (exhausted ones
-- included: the claim buries those) or a claim that ran out? Two index seeks.
-- When there is none the claim is over: no transaction, nothing to bury.
SELECT EXISTS (SELECT 1 FROM _honker_live
                WHERE queue = ?1 AND state = 'pending' AND run_at <= unixepoch())
    OR EXISTS (SELECT 1 FROM _honker_live
                WHERE queue = ?1 AND state = 'processing' AND claim_expires_at < unixepoch());

-- name: queue_paused
SELECT EXISTS (SELECT 1 FROM _honkerpy_paused WHERE queue = ?1);

-- name: queue_pause
INSERT OR IGNORE INTO _honkerpy_paused (queue) VALUES (?1);

-- name: queue_resume
DELETE FROM _honkerpy_paused WHERE queue = ?1;
