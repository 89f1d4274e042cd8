-- Moving a database (`honker migrate`, honker/_transfer.py): for each table kind
-- of TRANSFER_COLUMNS (honker/backends/base.py) a count, an export in key order
-- and an insert of a whole batch that keeps every column as it is (one array
-- parameter per column, named after it). ops/transfer.py runs them.

-- Every other writer waits until the export's transaction ends: one consistent
-- copy, and nothing committed meanwhile that the copy would miss.
-- name: transfer_freeze
LOCK TABLE {schema}._honker_live, {schema}._honker_dead, {schema}._honker_results,
           {schema}._honker_stream, {schema}._honker_stream_consumers,
           {schema}._honker_scheduler_tasks
  IN SHARE MODE;

-- name: transfer_count_jobs
SELECT count(*) FROM {schema}._honker_live;
-- name: transfer_export_jobs
SELECT id, queue, payload, state, priority, run_at, worker_id, claim_expires_at,
       attempts, max_attempts, created_at, expires_at
  FROM {schema}._honker_live ORDER BY id;
-- name: transfer_import_jobs
INSERT INTO {schema}._honker_live (id, queue, payload, state, priority, run_at, worker_id,
                                   claim_expires_at, attempts, max_attempts, created_at,
                                   expires_at)
SELECT * FROM unnest(%(id)s::bigint[], %(queue)s::text[], %(payload)s::text[],
                     %(state)s::text[], %(priority)s::bigint[], %(run_at)s::bigint[],
                     %(worker_id)s::text[], %(claim_expires_at)s::bigint[],
                     %(attempts)s::bigint[], %(max_attempts)s::bigint[],
                     %(created_at)s::bigint[], %(expires_at)s::bigint[]);

-- name: transfer_count_dead
SELECT count(*) FROM {schema}._honker_dead;
-- name: transfer_export_dead
SELECT id, queue, payload, priority, run_at, attempts, max_attempts, last_error,
       created_at, died_at
  FROM {schema}._honker_dead ORDER BY id;
-- name: transfer_import_dead
INSERT INTO {schema}._honker_dead (id, queue, payload, priority, run_at, attempts,
                                   max_attempts, last_error, created_at, died_at)
SELECT * FROM unnest(%(id)s::bigint[], %(queue)s::text[], %(payload)s::text[],
                     %(priority)s::bigint[], %(run_at)s::bigint[], %(attempts)s::bigint[],
                     %(max_attempts)s::bigint[], %(last_error)s::text[],
                     %(created_at)s::bigint[], %(died_at)s::bigint[]);

-- name: transfer_count_results
SELECT count(*) FROM {schema}._honker_results;
-- name: transfer_export_results
SELECT job_id, value, created_at, expires_at FROM {schema}._honker_results ORDER BY job_id;
-- name: transfer_import_results
INSERT INTO {schema}._honker_results (job_id, value, created_at, expires_at)
SELECT * FROM unnest(%(job_id)s::bigint[], %(value)s::text[], %(created_at)s::bigint[],
                     %(expires_at)s::bigint[]);

-- name: transfer_count_stream
SELECT count(*) FROM {schema}._honker_stream;
-- name: transfer_export_stream
SELECT "offset", topic, key, payload, created_at FROM {schema}._honker_stream ORDER BY "offset";
-- name: transfer_import_stream
INSERT INTO {schema}._honker_stream ("offset", topic, key, payload, created_at)
SELECT * FROM unnest(%(offset)s::bigint[], %(topic)s::text[], %(key)s::text[],
                     %(payload)s::text[], %(created_at)s::bigint[]);

-- name: transfer_count_stream_consumers
SELECT count(*) FROM {schema}._honker_stream_consumers;
-- name: transfer_export_stream_consumers
SELECT name, topic, "offset" FROM {schema}._honker_stream_consumers ORDER BY name, topic;
-- name: transfer_import_stream_consumers
INSERT INTO {schema}._honker_stream_consumers (name, topic, "offset")
SELECT * FROM unnest(%(name)s::text[], %(topic)s::text[], %(offset)s::bigint[]);

-- name: transfer_count_schedules
SELECT count(*) FROM {schema}._honker_scheduler_tasks;
-- name: transfer_export_schedules
SELECT name, queue, cron_expr, payload, priority, expires_s, next_fire_at, enabled,
       max_attempts
  FROM {schema}._honker_scheduler_tasks ORDER BY name;
-- name: transfer_import_schedules
INSERT INTO {schema}._honker_scheduler_tasks (name, queue, cron_expr, payload, priority,
                                              expires_s, next_fire_at, enabled, max_attempts)
SELECT * FROM unnest(%(name)s::text[], %(queue)s::text[], %(cron_expr)s::text[],
                     %(payload)s::text[], %(priority)s::bigint[], %(expires_s)s::bigint[],
                     %(next_fire_at)s::bigint[], %(enabled)s::bigint[],
                     %(max_attempts)s::bigint[]);

-- The id counters: raised to the source's last id, and past every id now in
-- the tables (rows were inserted with their ids, which an identity does not count).
-- name: transfer_count_sequences
SELECT count(*) FROM (
  SELECT pg_sequence_last_value(pg_get_serial_sequence('{schema}._honker_live', 'id')::regclass)
  UNION ALL
  SELECT pg_sequence_last_value(
    pg_get_serial_sequence('{schema}._honker_stream', 'offset')::regclass)
) s (v) WHERE v IS NOT NULL;
-- name: transfer_export_sequences
SELECT kind, v FROM (
  SELECT 'jobs',
         pg_sequence_last_value(pg_get_serial_sequence('{schema}._honker_live', 'id')::regclass)
  UNION ALL
  SELECT 'stream', pg_sequence_last_value(
    pg_get_serial_sequence('{schema}._honker_stream', 'offset')::regclass)
) s (kind, v) WHERE v IS NOT NULL ORDER BY kind;
-- name: transfer_raise_jobs
SELECT setval(pg_get_serial_sequence('{schema}._honker_live', 'id'), m)
  FROM (SELECT GREATEST(%(last_value)s::bigint,
                        (SELECT max(id) FROM {schema}._honker_live),
                        (SELECT max(id) FROM {schema}._honker_dead),
                        (SELECT max(job_id) FROM {schema}._honker_results),
                        pg_sequence_last_value(
                          pg_get_serial_sequence('{schema}._honker_live', 'id')::regclass))
          AS m) s
 WHERE m > 0;

-- name: transfer_raise_stream
SELECT setval(pg_get_serial_sequence('{schema}._honker_stream', 'offset'), m)
  FROM (SELECT GREATEST(%(last_value)s::bigint,
                        (SELECT max("offset") FROM {schema}._honker_stream),
                        pg_sequence_last_value(
                          pg_get_serial_sequence('{schema}._honker_stream', 'offset')::regclass))
          AS m) s
 WHERE m > 0;

-- A live claim: what makes `honker migrate` refuse (without --force).
-- name: transfer_held_claims
SELECT count(*) FROM {schema}._honker_live
 WHERE state = 'processing' AND claim_expires_at >= {now};
