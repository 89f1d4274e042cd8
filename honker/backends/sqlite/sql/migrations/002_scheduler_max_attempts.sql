-- Adds _honker_scheduler_tasks.max_attempts to a file made before the column
-- existed (docs/spec/engine.md §2.11).
-- adds-column: _honker_scheduler_tasks.max_attempts
ALTER TABLE _honker_scheduler_tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;
