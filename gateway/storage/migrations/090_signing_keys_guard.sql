-- The gateway's signing keys verify every checkpoint and response signed so far: a key is never
-- deleted, and the only change allowed is retiring it, once (retired_at set, its sealed private half
-- destroyed). Otherwise an insider could delete a retired public key and make the signatures made
-- with it unverifiable against the database (copies of /.well-known/jwks.json held elsewhere still
-- verify them). Fires ALWAYS, like the other guards (migration 040).
CREATE FUNCTION signing_keys_retire_only() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'gateway signing keys are never deleted; rotate them instead' USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.retired_at IS NOT NULL
     OR NEW.retired_at IS NULL
     OR NEW.sealed_private_jwk <> 'destroyed'
     OR (NEW.kid, NEW.alg, NEW.public_jwk, NEW.created_at) IS DISTINCT FROM (OLD.kid, OLD.alg, OLD.public_jwk, OLD.created_at)
  THEN
    RAISE EXCEPTION 'a gateway signing key can only be retired, once' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER signing_keys_retire_only
  BEFORE UPDATE OR DELETE ON signing_keys
  FOR EACH ROW EXECUTE FUNCTION signing_keys_retire_only();
ALTER TABLE signing_keys ENABLE ALWAYS TRIGGER signing_keys_retire_only;

CREATE FUNCTION signing_keys_refuse_truncate() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION 'gateway signing keys are never deleted; rotate them instead' USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER signing_keys_no_truncate BEFORE TRUNCATE ON signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION signing_keys_refuse_truncate();
ALTER TABLE signing_keys ENABLE ALWAYS TRIGGER signing_keys_no_truncate;
