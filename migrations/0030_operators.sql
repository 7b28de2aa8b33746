-- 0030: operators (issue 15): the people who run the gateway, their credentials and sessions.
--
-- An operator is a global identity (one e-mail across every org), so these tables are no tenant's:
-- RLS is ENABLEd and FORCEd with a policy that admits only the service roles (any other role that
-- a grant reached would see nothing), and the grants are the DML the use cases need. Passwords are
-- Argon2id PHC strings; refresh tokens, reset tokens and recovery codes are stored only as keyed
-- digests (HMAC-SHA256 with the server pepper), never in plaintext.
CREATE TABLE ibex_core.operators (
  id uuid PRIMARY KEY,
  email text NOT NULL CONSTRAINT operators_email_length CHECK (char_length(email) BETWEEN 3 AND 320),
  display_name text NOT NULL CONSTRAINT operators_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 200),
  password_hash text CONSTRAINT operators_password_hash_is_phc CHECK (password_hash IS NULL OR password_hash LIKE '$%'),
  status text NOT NULL DEFAULT 'active' CONSTRAINT operators_status CHECK (status IN ('active', 'disabled')),
  platform_admin boolean NOT NULL DEFAULT false,
  -- TOTP secrets (base32): confirmed, and an enrollment in progress.
  totp_secret text,
  pending_totp_secret text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operators_email_unique ON ibex_core.operators (lower(email));

CREATE TABLE ibex_core.operator_recovery_codes (
  operator_id uuid NOT NULL REFERENCES ibex_core.operators (id) ON DELETE CASCADE,
  digest text NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (operator_id, digest)
);

CREATE TABLE ibex_core.operator_reset_tokens (
  digest text PRIMARY KEY,
  operator_id uuid NOT NULL REFERENCES ibex_core.operators (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX operator_reset_tokens_operator ON ibex_core.operator_reset_tokens (operator_id);

-- A session family: one sign-in and every refresh token rotated from it.
CREATE TABLE ibex_core.operator_sessions (
  family_id uuid PRIMARY KEY,
  operator_id uuid NOT NULL REFERENCES ibex_core.operators (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX operator_sessions_operator ON ibex_core.operator_sessions (operator_id);

CREATE TABLE ibex_core.operator_refresh_tokens (
  digest text PRIMARY KEY,
  family_id uuid NOT NULL REFERENCES ibex_core.operator_sessions (family_id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX operator_refresh_tokens_family ON ibex_core.operator_refresh_tokens (family_id);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['operators', 'operator_recovery_codes', 'operator_reset_tokens', 'operator_sessions', 'operator_refresh_tokens']
  LOOP
    EXECUTE format('ALTER TABLE ibex_core.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE ibex_core.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('REVOKE ALL ON ibex_core.%I FROM PUBLIC', t);
    EXECUTE format(
      'CREATE POLICY %I ON ibex_core.%I USING (current_user IN (''ibex_app'', ''ibex_platform'')) WITH CHECK (current_user IN (''ibex_app'', ''ibex_platform''))',
      t || '_service_only', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE (display_name, password_hash, status, platform_admin, totp_secret, pending_totp_secret)
  ON ibex_core.operators TO ibex_app;
GRANT SELECT, INSERT, UPDATE (used_at), DELETE ON ibex_core.operator_recovery_codes TO ibex_app;
GRANT SELECT, INSERT, UPDATE (used_at) ON ibex_core.operator_reset_tokens TO ibex_app;
GRANT SELECT, INSERT, UPDATE (expires_at, revoked_at) ON ibex_core.operator_sessions TO ibex_app;
GRANT SELECT, INSERT, UPDATE (used_at) ON ibex_core.operator_refresh_tokens TO ibex_app;
