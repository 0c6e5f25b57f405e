-- Sessions of the data officers' console (/console/): an officer signs in once with an `audit`
-- system's short-lived token and the browser then holds only an HttpOnly cookie. Only a SHA-256 of the
-- session id is stored, so a database dump cannot be replayed as a session. The anti-CSRF token is
-- kept as it is (the page fetches it again after a reload): it is worthless without the cookie.
-- Rows are short-lived working state, not records: sign-ins and sign-outs are in the audit log.
CREATE TABLE IF NOT EXISTS console_sessions (
  id_hash text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  csrf_token text NOT NULL CHECK (csrf_token ~ '^[A-Za-z0-9_-]{43}$'),
  system_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  -- No session outlives a working morning, whatever the code asks for.
  CHECK (expires_at > created_at AND expires_at <= created_at + interval '8 hours')
);

CREATE INDEX IF NOT EXISTS console_sessions_expires_at ON console_sessions (expires_at);
