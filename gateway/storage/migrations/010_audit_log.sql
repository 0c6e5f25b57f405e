-- The tamper-evident audit log (docs/audit.md). One row per event, in one hash chain:
--   hash = hex(SHA-256(prev_hash || canonical JSON (RFC 8785) of event)), the first prev_hash = 64 zeros.
-- `event` is exactly what was hashed. Every filter column is GENERATED from it, so a filter column
-- cannot be changed without changing the hashed event (which verification detects).

-- Casting ISO 8601 text with an explicit offset ('...Z') does not depend on the session's TimeZone or
-- DateStyle, so this is immutable for the values the gateway writes (a generated column needs that).
CREATE FUNCTION audit_event_time(text) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT $1::timestamptz $$;

CREATE FUNCTION audit_event_text_array(jsonb) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(array_agg(value ORDER BY value), '{}') FROM jsonb_array_elements_text(coalesce($1, '[]')) $$;

CREATE TABLE audit_events (
  sequence bigint PRIMARY KEY CHECK (sequence > 0),
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  event jsonb NOT NULL,
  kind text GENERATED ALWAYS AS (event->>'kind') STORED,
  at timestamptz GENERATED ALWAYS AS (audit_event_time(event->>'at')) STORED,
  lookup_id text GENERATED ALWAYS AS (event->>'lookupId') STORED,
  requester_department text GENERATED ALWAYS AS (event->'requester'->>'department') STORED,
  requester_system text GENERATED ALWAYS AS (event->'requester'->>'system') STORED,
  provider text GENERATED ALWAYS AS (event->>'provider') STORED,
  certificate_type text GENERATED ALWAYS AS (event->>'certificateType') STORED,
  outcome text GENERATED ALWAYS AS (event->>'outcome') STORED,
  matter text GENERATED ALWAYS AS (event->'purpose'->>'matter') STORED,
  -- HMAC-SHA256 of each normalised `type:value` subject identifier (never the identifiers themselves).
  subject_hashes text[] GENERATED ALWAYS AS (audit_event_text_array(event->'subjectHashes')) STORED
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_lookup_id ON audit_events (lookup_id) WHERE lookup_id IS NOT NULL;
CREATE INDEX audit_events_requester ON audit_events (requester_department, sequence);
CREATE INDEX audit_events_provider ON audit_events (provider, sequence) WHERE provider IS NOT NULL;
CREATE INDEX audit_events_subject_hashes ON audit_events USING gin (subject_hashes);

-- Signed statements of the chain head (a compact JWS over {sequence, hash, at}), to be held elsewhere
-- too. The columns repeat the signed payload for queries; verification reads the JWS.
CREATE TABLE audit_checkpoints (
  sequence bigint PRIMARY KEY CHECK (sequence > 0),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  at timestamptz NOT NULL,
  kid text NOT NULL,
  jws text NOT NULL
);

-- Which HMAC key this log's subject hashes were made with (an HMAC of a fixed label, not the key), so
-- an instance started with another key refuses to start instead of writing unsearchable hashes.
CREATE TABLE audit_settings (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit_refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_settings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_settings
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
