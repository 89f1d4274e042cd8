-- The ideal minimal queue the benches compare against (issue 15): bare sqlite3,
-- BEGIN IMMEDIATE ... COMMIT around each operation, on honker's own table and
-- partial index, with none of honker's extras (no dead-letter probe, no pause
-- check, no expiry or delay arithmetic beyond the claim predicate).

-- name: enqueue
INSERT INTO _honker_live (queue, payload, run_at, priority, max_attempts)
VALUES (?1, ?2, unixepoch(), ?3, 3);

-- name: claim
-- One UPDATE ... RETURNING on the partial index _honker_live_claim.
UPDATE _honker_live
   SET state = 'processing', worker_id = ?2,
       claim_expires_at = unixepoch() + ?3, attempts = attempts + 1
 WHERE id IN (
   SELECT id FROM _honker_live
    WHERE queue = ?1 AND state IN ('pending', 'processing')
      AND run_at <= unixepoch()
      AND attempts < max_attempts
      AND (expires_at IS NULL OR expires_at > unixepoch())
      AND (state = 'pending' OR claim_expires_at < unixepoch())
    ORDER BY priority DESC, run_at, id
    LIMIT ?4)
RETURNING id, queue, payload, worker_id, attempts, claim_expires_at;

-- name: ack
DELETE FROM _honker_live
 WHERE id = ?1 AND worker_id = ?2 AND claim_expires_at >= unixepoch();

-- name: ack_batch
DELETE FROM _honker_live
 WHERE id IN (SELECT value FROM json_each(?1))
   AND worker_id = ?2 AND claim_expires_at >= unixepoch();
