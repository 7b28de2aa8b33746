-- 0002: organizations, users, agents, tokens.
--
-- Every table here is a tenant table: ENABLE and FORCE ROW LEVEL SECURITY, one policy that
-- compares the row's org with the transaction's org context. The context is set with
-- `SELECT set_config('app.current_org_id', $1, true)` inside the transaction; NULLIF turns the
-- '' a connection reports after an earlier transaction-local setting into NULL, so "no org"
-- matches no row instead of failing the ::uuid cast. See docs/RLS.md.

CREATE TABLE ibex_core.organizations (
  id uuid PRIMARY KEY,
  name text NOT NULL CONSTRAINT organizations_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'active' CONSTRAINT organizations_status CHECK (status IN ('active', 'disabled')),
  -- Requests per minute for the whole org; NULL means the proxy's default applies.
  rate_limit_per_minute integer CONSTRAINT organizations_rate_limit_positive CHECK (rate_limit_per_minute > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT organizations_name_unique UNIQUE (name)
);

CREATE TABLE ibex_core.users (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  email text NOT NULL CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 1 AND 320),
  display_name text NOT NULL CONSTRAINT users_display_name_length CHECK (char_length(display_name) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Lets tokens reference (org_id, id), so a token's creator is always in the token's org.
  CONSTRAINT users_org_id_id_unique UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX users_org_email_unique ON ibex_core.users (org_id, lower(email));

CREATE TABLE ibex_core.agents (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  name text NOT NULL CONSTRAINT agents_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'active'
    CONSTRAINT agents_status CHECK (status IN ('active', 'paused', 'archived', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_org_created ON ibex_core.agents (org_id, created_at);

CREATE TABLE ibex_core.tokens (
  -- The uuid inside the PAT (ibex_pat_<id>_<secret>): not secret, how validation finds the row.
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  name text NOT NULL CONSTRAINT tokens_name_length CHECK (char_length(name) BETWEEN 1 AND 128),
  -- Argon2id PHC string of the secret. Never the plaintext: a PHC string starts with '$'.
  secret_hash text NOT NULL
    CONSTRAINT tokens_secret_hash_is_phc CHECK (secret_hash LIKE '$%' AND position('ibex_pat_' IN secret_hash) = 0),
  display_prefix text NOT NULL CONSTRAINT tokens_display_prefix_length CHECK (char_length(display_prefix) <= 64),
  -- The unsigned 64-bit permission bitmap. bigint is signed, so numeric(20,0) holds bit 63 as is.
  permissions numeric(20, 0) NOT NULL
    CONSTRAINT tokens_permissions_uint64 CHECK (permissions >= 0 AND permissions <= 18446744073709551615),
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  CONSTRAINT tokens_created_by_same_org FOREIGN KEY (org_id, created_by) REFERENCES ibex_core.users (org_id, id)
);
CREATE INDEX tokens_org_created ON ibex_core.tokens (org_id, created_at DESC, id DESC);

-- Row-level security: ENABLE and FORCE on every tenant table (FORCE so that even the owner's
-- sessions are filtered; the app role owns nothing anyway).
ALTER TABLE ibex_core.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.users FORCE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.agents FORCE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.tokens FORCE ROW LEVEL SECURITY;

CREATE POLICY organizations_tenant_isolation ON ibex_core.organizations
  USING (id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

CREATE POLICY users_tenant_isolation ON ibex_core.users
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

CREATE POLICY agents_tenant_isolation ON ibex_core.agents
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

CREATE POLICY tokens_tenant_isolation ON ibex_core.tokens
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

-- The app role gets the DML its use cases need, nothing more. Organizations are created only
-- through ibex_core.create_org (0003); a tenant can read and update its own org row.
REVOKE ALL ON ALL TABLES IN SCHEMA ibex_core FROM PUBLIC;
GRANT SELECT, UPDATE (status, rate_limit_per_minute) ON ibex_core.organizations TO ibex_app;
GRANT SELECT, INSERT, UPDATE (email, display_name), DELETE ON ibex_core.users TO ibex_app;
GRANT SELECT, INSERT, UPDATE (name, status), DELETE ON ibex_core.agents TO ibex_app;
GRANT SELECT, INSERT, UPDATE (name, revoked_at, last_used_at), DELETE ON ibex_core.tokens TO ibex_app;
