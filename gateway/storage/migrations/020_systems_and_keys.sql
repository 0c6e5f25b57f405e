-- The registry of calling systems and their public keys. A system is `<department>/<system>`; what it
-- may do (its roles) is recorded here and nowhere else: never taken from token claims. Keys are public
-- JWKs; a key is never deleted or changed, only retired, and a retired key never comes back.

CREATE TABLE systems (
  id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,62}/[a-z][a-z0-9-]{1,62}$'),
  department text NOT NULL REFERENCES departments (code),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  roles text[] NOT NULL CHECK (roles <@ ARRAY['lookup', 'connector', 'audit', 'admin']::text[]),
  -- A disabled system's tokens are refused (incident response) without losing its history.
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (split_part(id, '/', 1) = department)
);

CREATE TABLE system_keys (
  system_id text NOT NULL REFERENCES systems (id),
  kid text NOT NULL CHECK (kid ~ '^[A-Za-z0-9._-]{1,128}$'),
  -- The one algorithm tokens signed with this key may use (pinned per key).
  alg text NOT NULL CHECK (alg IN ('RS256', 'PS256', 'ES256')),
  public_jwk jsonb NOT NULL CHECK (NOT (public_jwk ? 'd')),
  -- RFC 7638 SHA-256 thumbprint: the same key material can be registered once, to one system, ever.
  thumbprint text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  retired_at timestamptz,
  retired_by text,
  PRIMARY KEY (system_id, kid),
  CHECK ((retired_at IS NULL) = (retired_by IS NULL))
);

-- Retiring is the only change a key accepts; deleting one would erase who could sign what, when.
CREATE FUNCTION system_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'system keys are never deleted; retire them instead' USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.retired_at IS NOT NULL
     OR NEW.retired_at IS NULL
     OR (NEW.system_id, NEW.kid, NEW.alg, NEW.public_jwk, NEW.thumbprint, NEW.created_at, NEW.created_by)
        IS DISTINCT FROM (OLD.system_id, OLD.kid, OLD.alg, OLD.public_jwk, OLD.thumbprint, OLD.created_at, OLD.created_by)
  THEN
    RAISE EXCEPTION 'a system key can only be retired, once' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER system_keys_retire_only
  BEFORE UPDATE OR DELETE ON system_keys
  FOR EACH ROW EXECUTE FUNCTION system_keys_retire_only();

-- Every registry change bumps this counter in the same transaction, whoever makes it (API, CLI, SQL),
-- so each gateway instance notices a change with one cheap read and reloads its in-memory view.
CREATE TABLE registry_revision (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision bigint NOT NULL
);
INSERT INTO registry_revision (singleton, revision) VALUES (true, 1);

CREATE FUNCTION bump_registry_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE registry_revision SET revision = revision + 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER departments_bump_registry_revision
  AFTER INSERT OR UPDATE OR DELETE ON departments
  FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_revision();
CREATE TRIGGER systems_bump_registry_revision
  AFTER INSERT OR UPDATE OR DELETE ON systems
  FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_revision();
CREATE TRIGGER system_keys_bump_registry_revision
  AFTER INSERT OR UPDATE OR DELETE ON system_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_revision();
