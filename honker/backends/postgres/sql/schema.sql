-- What every open runs before the migrations, under the migration lock
-- (honker/backends/postgres/migrate.py). `{schema}` is the configured schema.
-- Statements are separated by `;` at the end of a line.

-- name: version_table
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.honker_schema_version (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
