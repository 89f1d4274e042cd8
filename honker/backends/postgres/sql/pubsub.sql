-- The notification and stream statements of the PostgreSQL backend, by name
-- (loaded by sql/__init__.py; ops/pubsub.py runs them). `{schema}` is the
-- configured schema; `{now}` the server's clock. Ids and offsets are drawn
-- under a per-channel (per-topic) lock, in commit order: the functions of
-- migrations/002_pubsub.sql say why.

-- name: notify
SELECT {schema}.notify(%(channel)s::text, %(payload)s::text);

-- name: notify_max_id
SELECT COALESCE(max(id), 0) FROM {schema}._honker_notifications
 WHERE channel = %(channel)s::text;

-- name: notify_since
SELECT id, channel, payload, created_at FROM {schema}._honker_notifications
 WHERE channel = %(channel)s::text AND id > %(after_id)s::bigint
 ORDER BY id;

-- name: notify_prune
-- Older than older_s, OR beyond the newest `keep` rows of the whole table
-- (database-wide, as honker: the id of the (keep+1)-th newest row and below).
WITH gone AS (
  DELETE FROM {schema}._honker_notifications
   WHERE (%(older_s)s::bigint IS NOT NULL AND created_at < {now} - %(older_s)s::bigint)
      OR (%(keep)s::bigint IS NOT NULL
          AND id <= (SELECT id FROM {schema}._honker_notifications
                      ORDER BY id DESC LIMIT 1 OFFSET %(keep)s::bigint))
  RETURNING 1
)
SELECT count(*) FROM gone;

-- name: stream_publish
SELECT {schema}.honker_stream_publish(%(topic)s::text, %(key)s::text, %(payload)s::text);

-- name: stream_read_since
-- A negative limit reads everything (LIMIT NULL is no limit).
SELECT created_at, key, "offset", payload, topic FROM {schema}._honker_stream
 WHERE topic = %(topic)s::text AND "offset" > %(offset)s::bigint
 ORDER BY "offset"
 LIMIT CASE WHEN %(limit)s::bigint < 0 THEN NULL ELSE %(limit)s::bigint END;

-- name: stream_save_offset
-- Inserted or moved forward: one row back; an offset not above the saved one: none.
INSERT INTO {schema}._honker_stream_consumers AS c (name, topic, "offset")
VALUES (%(consumer)s::text, %(topic)s::text, %(offset)s::bigint)
ON CONFLICT (name, topic) DO UPDATE SET "offset" = excluded."offset"
 WHERE excluded."offset" > c."offset"
RETURNING 1;

-- name: stream_get_offset
SELECT "offset" FROM {schema}._honker_stream_consumers
 WHERE name = %(consumer)s::text AND topic = %(topic)s::text;

-- name: stream_lags
-- Per consumer: its saved offset, the topic's newest offset and the number of
-- the topic's events after the saved one (offsets are global across topics, so
-- a difference of offsets would overcount); a topic nobody consumes once, with
-- consumer NULL and its whole length as lag (honker/backends/sqlite/inspect.py).
WITH topics AS (
  SELECT topic, max("offset") AS max_offset, count(*) AS events
    FROM {schema}._honker_stream GROUP BY topic
)
SELECT c.topic, c.name, c."offset", COALESCE(t.max_offset, 0) AS max_offset,
       (SELECT count(*) FROM {schema}._honker_stream s
         WHERE s.topic = c.topic AND s."offset" > c."offset") AS lag
  FROM {schema}._honker_stream_consumers c
  LEFT JOIN topics t ON t.topic = c.topic
UNION ALL
SELECT t.topic, NULL, 0, t.max_offset, t.events
  FROM topics t
 WHERE NOT EXISTS (SELECT 1 FROM {schema}._honker_stream_consumers c WHERE c.topic = t.topic);
