-- Review sampling ("双随机、一公开"): reproducible random samples of access events, the reviewer drawn
-- for each, and the findings recorded against them. Append-only: a corrected finding is a new row
-- (the latest per event counts), so the history of a review cannot be rewritten quietly.
CREATE TABLE audit_review_samples (
  id uuid PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  from_at timestamptz NOT NULL,
  to_at timestamptz NOT NULL,
  seed text NOT NULL,
  size integer NOT NULL CHECK (size > 0),
  -- The population: which events were eligible, fixed at the chain head when drawn.
  population jsonb NOT NULL,
  head_sequence bigint NOT NULL,
  population_count integer NOT NULL,
  population_digest text NOT NULL,
  reviewers jsonb NOT NULL DEFAULT '[]',
  CHECK (from_at < to_at)
);

CREATE TABLE audit_review_items (
  sample_id uuid NOT NULL REFERENCES audit_review_samples (id),
  position integer NOT NULL,
  sequence bigint NOT NULL REFERENCES audit_events (sequence),
  reviewer text,
  PRIMARY KEY (sample_id, position),
  UNIQUE (sample_id, sequence)
);

CREATE TABLE audit_review_findings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sample_id uuid NOT NULL,
  sequence bigint NOT NULL,
  finding text NOT NULL CHECK (finding IN ('compliant', 'non-compliant', 'inconclusive')),
  note text,
  reviewer text NOT NULL,
  recorded_by text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (sample_id, sequence) REFERENCES audit_review_items (sample_id, sequence)
);

CREATE INDEX audit_review_findings_item ON audit_review_findings (sample_id, sequence, id);

CREATE TRIGGER audit_review_samples_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_review_samples
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_review_items_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_review_items
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_review_findings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_review_findings
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
