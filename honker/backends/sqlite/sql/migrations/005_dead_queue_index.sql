-- honker-py's own index (not honker's) on honker's dead-letter table: dead
-- jobs by queue, so the dashboard, `honker metrics` and Queue.stats() count
-- and page one queue's dead letters without reading every dead row. Only the
-- index is new: _honker_dead's columns are exactly honker's, and honker's
-- native engine keeps the index up to date like any other (it costs a little
-- on each job that dies, nothing on enqueue, claim or ack).
-- adds-index: _honker_dead._honkerpy_dead_queue
CREATE INDEX IF NOT EXISTS _honkerpy_dead_queue ON _honker_dead(queue, id);
