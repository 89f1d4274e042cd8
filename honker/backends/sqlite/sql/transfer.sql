-- Moving a database (`honker migrate`, honker/_transfer.py): for each table kind
-- of TRANSFER_COLUMNS (honker/backends/base.py) a count, an export in key order
-- and an insert that keeps every column as it is. Named parameters are the
-- column names. honker/backends/sqlite/transfer.py runs them.

-- name: transfer_count_jobs
SELECT count(*) FROM _honker_live;
-- name: transfer_export_jobs
SELECT id, queue, payload, state, priority, run_at, worker_id, claim_expires_at,
       attempts, max_attempts, created_at, expires_at
  FROM _honker_live ORDER BY id;
-- name: transfer_import_jobs
INSERT INTO _honker_live (id, queue, payload, state, priority, run_at, worker_id,
                          claim_expires_at, attempts, max_attempts, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: transfer_count_dead
SELECT count(*) FROM _honker_dead;
-- name: transfer_export_dead
SELECT id, queue, payload, priority, run_at, attempts, max_attempts, last_error,
       created_at, died_at
  FROM _honker_dead ORDER BY id;
-- name: transfer_import_dead
INSERT INTO _honker_dead (id, queue, payload, priority, run_at, attempts, max_attempts,
                          last_error, created_at, died_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: transfer_count_results
SELECT count(*) FROM _honker_results;
-- name: transfer_export_results
SELECT job_id, value, created_at, expires_at FROM _honker_results ORDER BY job_id;
-- name: transfer_import_results
INSERT INTO _honker_results (job_id, value, created_at, expires_at) VALUES (?, ?, ?, ?);

-- name: transfer_count_stream
SELECT count(*) FROM _honker_stream;
-- name: transfer_export_stream
SELECT offset, topic, key, payload, created_at FROM _honker_stream ORDER BY offset;
-- name: transfer_import_stream
INSERT INTO _honker_stream (offset, topic, key, payload, created_at) VALUES (?, ?, ?, ?, ?);

-- name: transfer_count_stream_consumers
SELECT count(*) FROM _honker_stream_consumers;
-- name: transfer_export_stream_consumers
SELECT name, topic, offset FROM _honker_stream_consumers ORDER BY name, topic;
-- name: transfer_import_stream_consumers
INSERT INTO _honker_stream_consumers (name, topic, offset) VALUES (?, ?, ?);

-- name: transfer_count_schedules
SELECT count(*) FROM _honker_scheduler_tasks;
-- name: transfer_export_schedules
SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at, enabled,
       max_attempts
  FROM _honker_scheduler_tasks ORDER BY name;
-- name: transfer_import_schedules
INSERT INTO _honker_scheduler_tasks (name, queue, cron_expr, payload, priority, expires_s,
                                     next_fire_at, enabled, max_attempts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- The AUTOINCREMENT counters: the last id handed out, deleted rows included.
-- name: transfer_count_sequences
SELECT count(*) FROM sqlite_sequence WHERE name IN ('_honker_live', '_honker_stream');
-- name: transfer_export_sequences
SELECT CASE name WHEN '_honker_live' THEN 'jobs' ELSE 'stream' END, seq
  FROM sqlite_sequence WHERE name IN ('_honker_live', '_honker_stream') ORDER BY name;
-- Raise a counter, never lower it (the imported rows already raised it to their max).
-- name: transfer_import_sequences
UPDATE sqlite_sequence SET seq = max(seq, :last_value)
 WHERE name = CASE :kind WHEN 'jobs' THEN '_honker_live' ELSE '_honker_stream' END;
-- A table no row was ever inserted into has no counter yet.
-- name: transfer_import_sequences_missing
INSERT INTO sqlite_sequence (name, seq)
SELECT CASE :kind WHEN 'jobs' THEN '_honker_live' ELSE '_honker_stream' END, :last_value
 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence
                    WHERE name = CASE :kind WHEN 'jobs' THEN '_honker_live'
                                               ELSE '_honker_stream' END);

-- A live claim: what makes `honker migrate` refuse (without --force).
-- name: transfer_held_claims
SELECT count(*) FROM _honker_live
 WHERE state = 'processing' AND claim_expires_at >= unixepoch();
