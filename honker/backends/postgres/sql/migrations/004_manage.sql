-- Job management on PostgreSQL: honker-py's own side tables (not honker's),
-- the same as SQLite's migrations 003 and 004, in PostgreSQL's types, and the
-- payload filter of Queue.jobs(where=...) and friends (sql/manage.sql).

-- The queues an operator paused (Queue.pause()): a row means paused. The
-- claim (queues.sql) claims nothing from a paused queue.
CREATE TABLE {schema}._honkerpy_paused (
  queue text PRIMARY KEY,
  paused_at bigint NOT NULL DEFAULT {schema}.unixepoch()
);

-- Completed, failed and retried jobs per queue per minute of the server's
-- clock (kept 48 h), and all-time totals per queue, as counted by this
-- package's acks, retries, fails and dead-lettering (history.py).
CREATE TABLE {schema}._honkerpy_throughput (
  queue text NOT NULL,
  minute bigint NOT NULL,
  completed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  retried bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, minute)
);

CREATE TABLE {schema}._honkerpy_totals (
  queue text PRIMARY KEY,
  completed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  retried bigint NOT NULL DEFAULT 0
);

-- Whether a job's payload matches a filter: for each i, the value at
-- paths[i] (a `strict` jsonpath, so `$.a.b` does not look into arrays, as
-- SQLite's json_extract does not) equals vals[i]. Equality follows SQLite's
-- JSON comparison, which the SQLite backend uses: numbers compare by value
-- (1 = 1.0), a JSON true/false is the number 1/0, strings compare exactly, a
-- JSON null matches a missing path too. The payload column is text: one that
-- is not valid JSON matches no filter (the cast's error is caught here, so a
-- hand-written row never makes a listing or a bulk action fail).
-- PARALLEL UNSAFE (the default): the exception block is a subtransaction.
CREATE FUNCTION {schema}._honkerpy_where(payload text, paths jsonpath[], vals jsonb[])
  RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT
  AS $$
DECLARE
  doc jsonb;
  got jsonb;
BEGIN
  BEGIN
    doc := payload::jsonb;
  EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
    RETURN false;
  END;
  FOR i IN 1 .. coalesce(array_length(paths, 1), 0) LOOP
    got := jsonb_path_query_first(doc, paths[i], '{}', true);
    IF jsonb_typeof(got) = 'boolean' THEN
      got := to_jsonb(CASE WHEN got = 'true'::jsonb THEN 1 ELSE 0 END);
    END IF;
    IF vals[i] = 'null'::jsonb THEN
      IF got IS NOT NULL AND got <> 'null'::jsonb THEN
        RETURN false;
      END IF;
    ELSIF got IS NULL OR got <> vals[i] THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END
$$;
