-- Token buckets shared by every gateway instance on this database, one per (policy, requester
-- system), so a per-requester rate limit holds for the cluster (gateway/policy/rate-limit-store.ts).
-- Gateway instances lease a few tokens at a time from a row in one atomic UPSERT and spend them
-- locally; `granted` is what the last lease took (RETURNING sees only the new row).
--
-- Working state, not records: rows are updated in place all the time, so there are no append-only
-- guards (every allowed lookup is in the audit log already). UNLOGGED: writes skip the WAL, so a lease
-- costs no fsync; a crash or a failover to a standby empties the table, which refills every bucket
-- (at most one extra burst per requester, once). Rows are few (policies x requester systems).
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limit_buckets (
  policy_id text NOT NULL,
  requester text NOT NULL,
  tokens double precision NOT NULL CHECK (tokens >= 0),
  granted integer NOT NULL CHECK (granted >= 0),
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (policy_id, requester)
);
