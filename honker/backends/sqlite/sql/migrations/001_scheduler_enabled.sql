-- Adds _honker_scheduler_tasks.enabled to a file made before the column
-- existed (docs/spec/engine.md §2.11). honker's format has no version table:
-- a migration runs when the column it adds is missing.
-- adds-column: _honker_scheduler_tasks.enabled
ALTER TABLE _honker_scheduler_tasks ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
