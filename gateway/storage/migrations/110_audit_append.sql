-- Appends a batch of linked events to the audit chain in one statement, so the audit log's group
-- commit costs one round trip instead of five (BEGIN, lock, head, INSERT, COMMIT; docs/performance.md).
--
-- The gateway links and hashes the batch onto the head it last saw, then calls this. Under the chain
-- lock (the advisory lock every appender takes, AUDIT_CHAIN_LOCK in gateway/audit/audit-store.ts,
-- passed as `lock_key`), the batch goes in only if its first row continues the chain's head: the next
-- sequence number, and the head's hash as its prev_hash. Otherwise nothing is written and
-- `appended` is false: another writer appended first, and the caller relinks onto the head returned.
-- Either way the function returns the chain's head and newest checkpoint as they are after it.
--
-- VOLATILE (the default) matters: each statement in it takes a fresh snapshot, so the head is read
-- after the lock is granted and sees every batch committed before. `lock_timeout` bounds the wait for
-- the lock (transaction-local, as the statement is its own transaction).
CREATE FUNCTION audit_append(batch jsonb, lock_key bigint, lock_timeout text)
  RETURNS TABLE (
    appended boolean,
    head_sequence bigint,
    head_hash text,
    checkpoint_sequence bigint,
    checkpoint_at timestamptz,
    checkpoint_jws text
  )
  LANGUAGE plpgsql VOLATILE
  AS $$
DECLARE
  first_row jsonb := batch->0;
  last_row jsonb := batch->(jsonb_array_length(batch) - 1);
BEGIN
  PERFORM set_config('lock_timeout', lock_timeout, true);
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT e.sequence, e.hash INTO head_sequence, head_hash
    FROM audit_events AS e ORDER BY e.sequence DESC LIMIT 1;
  head_sequence := coalesce(head_sequence, 0);
  head_hash := coalesce(head_hash, repeat('0', 64));
  appended := first_row IS NOT NULL
    AND (first_row->>'sequence')::bigint = head_sequence + 1
    AND first_row->>'prevHash' = head_hash;
  IF appended THEN
    INSERT INTO audit_events (sequence, prev_hash, hash, event)
      SELECT (r->>'sequence')::bigint, r->>'prevHash', r->>'hash', r->'event'
        FROM jsonb_array_elements(batch) AS r;
    head_sequence := (last_row->>'sequence')::bigint;
    head_hash := last_row->>'hash';
  END IF;
  SELECT c.sequence, c.at, c.jws INTO checkpoint_sequence, checkpoint_at, checkpoint_jws
    FROM audit_checkpoints AS c ORDER BY c.sequence DESC LIMIT 1;
  checkpoint_sequence := coalesce(checkpoint_sequence, 0);
  RETURN NEXT;
END
$$;
