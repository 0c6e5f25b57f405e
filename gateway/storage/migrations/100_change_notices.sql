-- Change notices (docs/notices.md): approval systems subscribe to changes of records they fetched;
-- provider departments publish change events on Kafka; gateways match each event against the
-- subscriptions once and keep one delivery per (subscription, change) here, so a notice survives a
-- gateway restart and is delivered at least once. Subjects are stored only as the audit log's keyed
-- hashes (one per identifier), never in clear.

-- Where a system's notices may be sent: registered by an administrator, never taken from a request body.
CREATE TABLE IF NOT EXISTS webhook_targets (
  system_id text NOT NULL REFERENCES systems (id),
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  PRIMARY KEY (system_id, name)
);

CREATE TABLE IF NOT EXISTS change_subscriptions (
  id uuid PRIMARY KEY,
  system_id text NOT NULL REFERENCES systems (id),
  requester_department text NOT NULL,
  certificate_type text NOT NULL,
  provider text NOT NULL,
  subject_hashes text[] NOT NULL CHECK (cardinality(subject_hashes) > 0),
  matter text NOT NULL,
  case_ref text NOT NULL,
  officer text NOT NULL,
  -- Record fields asked for; NULL: every field the policy grants.
  fields text[],
  delivery text NOT NULL CHECK (delivery IN ('webhook', 'stream')),
  webhook_target text,
  created_at timestamptz NOT NULL DEFAULT now(),
  ends_at timestamptz NOT NULL CHECK (ends_at > created_at),
  cancelled_at timestamptz,
  -- A name, not a reference: a target is removed only when no open subscription uses it (409
  -- otherwise), and a closed subscription's history keeps the name it delivered to.
  CHECK ((delivery = 'webhook') = (webhook_target IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS change_subscriptions_subjects
  ON change_subscriptions USING gin (subject_hashes);
CREATE INDEX IF NOT EXISTS change_subscriptions_system ON change_subscriptions (system_id, created_at);

-- Each change event once, as received and verified (the department's signed envelope).
CREATE TABLE IF NOT EXISTS record_changes (
  change_id uuid PRIMARY KEY,
  department text NOT NULL,
  certificate_type text NOT NULL,
  event jsonb NOT NULL,
  provider_key_id text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- One notice for one subscriber. `id` orders a system's notices and is the SSE event id.
CREATE TABLE IF NOT EXISTS notice_deliveries (
  id bigserial PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES change_subscriptions (id),
  change_id uuid NOT NULL REFERENCES record_changes (change_id),
  state text NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'delivered', 'dead-lettered', 'denied', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (subscription_id, change_id)
);

CREATE INDEX IF NOT EXISTS notice_deliveries_due
  ON notice_deliveries (next_attempt_at) WHERE state = 'pending';
