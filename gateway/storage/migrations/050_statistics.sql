-- Sharing statistics (docs/statistics.md). Derived data, NOT part of the hash chain: everything here
-- can be dropped and rebuilt from audit_events (set the watermark's layout to '' and the roll-up job
-- rebuilds it), and nothing here is protected against change.

-- Lookup events folded into hours (UTC), one row per (hour, requester department, provider
-- department, certificate type, outcome, reason). '' stands for "not in the event" (an invalid request
-- names no certificate type; a granted lookup has no reason), so every key column can be in the key.
-- l00 .. l29 are a latency histogram: how many of the row's lookups took a latency in each of the
-- fixed, log-spaced buckets of gateway/statistics/latency-histogram.ts (l00 below 1 ms, l29 from
-- 120 s). Columns rather than an array: summing 30 columns is a plain aggregate, an array would have
-- to be unnested row by row.
CREATE TABLE statistics_lookup_hours (
  hour timestamptz NOT NULL,
  requester text NOT NULL,
  provider text NOT NULL,
  certificate_type text NOT NULL,
  outcome text NOT NULL,
  reason text NOT NULL,
  lookups integer NOT NULL,
  latency_sum_ms double precision NOT NULL,
  l00 integer NOT NULL DEFAULT 0,
  l01 integer NOT NULL DEFAULT 0,
  l02 integer NOT NULL DEFAULT 0,
  l03 integer NOT NULL DEFAULT 0,
  l04 integer NOT NULL DEFAULT 0,
  l05 integer NOT NULL DEFAULT 0,
  l06 integer NOT NULL DEFAULT 0,
  l07 integer NOT NULL DEFAULT 0,
  l08 integer NOT NULL DEFAULT 0,
  l09 integer NOT NULL DEFAULT 0,
  l10 integer NOT NULL DEFAULT 0,
  l11 integer NOT NULL DEFAULT 0,
  l12 integer NOT NULL DEFAULT 0,
  l13 integer NOT NULL DEFAULT 0,
  l14 integer NOT NULL DEFAULT 0,
  l15 integer NOT NULL DEFAULT 0,
  l16 integer NOT NULL DEFAULT 0,
  l17 integer NOT NULL DEFAULT 0,
  l18 integer NOT NULL DEFAULT 0,
  l19 integer NOT NULL DEFAULT 0,
  l20 integer NOT NULL DEFAULT 0,
  l21 integer NOT NULL DEFAULT 0,
  l22 integer NOT NULL DEFAULT 0,
  l23 integer NOT NULL DEFAULT 0,
  l24 integer NOT NULL DEFAULT 0,
  l25 integer NOT NULL DEFAULT 0,
  l26 integer NOT NULL DEFAULT 0,
  l27 integer NOT NULL DEFAULT 0,
  l28 integer NOT NULL DEFAULT 0,
  l29 integer NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, requester, provider, certificate_type, outcome, reason)
);

-- How far the roll-up has folded the log: every lookup event with sequence <= last_sequence is in
-- statistics_lookup_hours, none after it. One row, locked (FOR UPDATE) by the transaction that folds
-- more events and moves it, so gateway instances sharing the database never fold an event twice.
-- `layout` names the bucket boundaries the rows were made with; when the code's differ, the job
-- empties the roll-up and folds the log again from the start.
CREATE TABLE statistics_rollup_state (
  id smallint PRIMARY KEY CHECK (id = 1),
  last_sequence bigint NOT NULL CHECK (last_sequence >= 0),
  layout text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO statistics_rollup_state (id, last_sequence, layout) VALUES (1, 0, '');

-- Connector availability: once a minute every gateway instance writes, per department with a
-- registered connector, how many of its connector instances it saw live. Instances write the same
-- minute: the larger count wins (an instance that has just started may not have heard every
-- heartbeat yet). Not derivable from anything else: a minute nobody observed has no row.
CREATE TABLE statistics_connector_minutes (
  minute timestamptz NOT NULL,
  department text NOT NULL,
  live_instances integer NOT NULL CHECK (live_instances >= 0),
  PRIMARY KEY (minute, department)
);
