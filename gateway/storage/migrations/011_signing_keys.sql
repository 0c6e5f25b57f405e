-- The gateway's signing keys (ES256), shared by every instance on this database so that
-- /.well-known/jwks.json is the same wherever a load balancer sends the caller. The private key is
-- stored sealed (AES-256-GCM, key derived from SILOBRIDGE_SIGNING_KEY_SECRET, the kid as associated
-- data); a database dump alone cannot sign. Retired keys stay, so older signatures still verify.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL CHECK (alg IN ('ES256')),
  public_jwk jsonb NOT NULL,
  sealed_private_jwk text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);

-- At most one active key at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;
