-- Departments that share data through the gateway: providers (hold records) and requesters.
-- The registry of systems and keys builds on this table.
CREATE TABLE departments (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9-]{1,62}$'),
  name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
  name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
