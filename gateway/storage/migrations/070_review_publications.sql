-- Published review summaries ("一公开"): what an officer made public, frozen as it was published.
-- Publishing again (after more findings) adds a row; the public sees the latest. Append-only, so a
-- publication cannot be withdrawn or edited quietly.
CREATE TABLE audit_review_publications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sample_id uuid NOT NULL REFERENCES audit_review_samples (id),
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by text NOT NULL,
  summary jsonb NOT NULL
);

CREATE INDEX audit_review_publications_sample ON audit_review_publications (sample_id, id);

CREATE TRIGGER audit_review_publications_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_review_publications
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
ALTER TABLE audit_review_publications ENABLE ALWAYS TRIGGER audit_review_publications_append_only;
