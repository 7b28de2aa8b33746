-- 0020: usage metering and the org's metering limits (issue 13, the auth side).
--
-- usage_records holds one row per forwarded request, written by the auth service from the
-- batches the proxies ship (UsageService.RecordUsage). (org_id, request_id) is the primary key
-- and the idempotency key: a batch sent again after a lost answer, or a record shipped twice,
-- is stored once (INSERT … ON CONFLICT DO NOTHING; the first write wins).
--
-- It is a tenant table like the others (docs/RLS.md): ENABLE and FORCE row-level security and
-- the NULLIF policy on org_id, so each record is written and read only in its own org's
-- context. The app role may SELECT and INSERT, nothing else: records are append-only (no
-- retention job exists yet; deleting old rows is the database owner's business). agent_id and
-- token_id carry no foreign key on purpose: usage outlives a deleted agent or token.
-- Integers that reach JavaScript as numbers are capped at 2^53 - 1 so they stay exact there.
CREATE TABLE ibex_core.usage_records (
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  -- The proxy's request id (X-Request-ID).
  request_id text NOT NULL CONSTRAINT usage_records_request_id_length CHECK (char_length(request_id) BETWEEN 1 AND 128),
  agent_id uuid NOT NULL,
  token_id uuid NOT NULL,
  -- The client-visible model name, the routing config's provider id, the provider's model.
  model text NOT NULL CONSTRAINT usage_records_model_length CHECK (char_length(model) <= 256),
  provider text NOT NULL CONSTRAINT usage_records_provider_length CHECK (char_length(provider) <= 256),
  upstream_model text NOT NULL CONSTRAINT usage_records_upstream_model_length CHECK (char_length(upstream_model) <= 256),
  prompt_tokens integer NOT NULL CONSTRAINT usage_records_prompt_tokens CHECK (prompt_tokens >= 0),
  completion_tokens integer NOT NULL CONSTRAINT usage_records_completion_tokens CHECK (completion_tokens >= 0),
  cached_tokens integer NOT NULL CONSTRAINT usage_records_cached_tokens CHECK (cached_tokens >= 0),
  -- True when the provider reported no usage and the proxy counted what it delivered.
  estimated boolean NOT NULL,
  -- Micro-USD (1e-6 USD), computed by the proxy from the routing config's prices.
  cost_micro_usd bigint NOT NULL
    CONSTRAINT usage_records_cost CHECK (cost_micro_usd >= 0 AND cost_micro_usd <= 9007199254740991),
  -- The HTTP status the client got (499: the client went away).
  status integer NOT NULL CONSTRAINT usage_records_status CHECK (status BETWEEN 100 AND 599),
  latency_ms integer NOT NULL CONSTRAINT usage_records_latency CHECK (latency_ms >= 0),
  -- Streams only: time to the first chunk written; NULL otherwise.
  ttft_ms integer CONSTRAINT usage_records_ttft CHECK (ttft_ms >= 0),
  stream boolean NOT NULL,
  -- When the request was made (the proxy's clock), not when the record arrived.
  created_at timestamptz NOT NULL,
  CONSTRAINT usage_records_pkey PRIMARY KEY (org_id, request_id)
);

-- Reports and budgets read one org's records over a time range.
CREATE INDEX usage_records_org_created ON ibex_core.usage_records (org_id, created_at);

ALTER TABLE ibex_core.usage_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.usage_records FORCE ROW LEVEL SECURITY;

CREATE POLICY usage_records_tenant_isolation ON ibex_core.usage_records
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

REVOKE ALL ON ibex_core.usage_records FROM PUBLIC;
GRANT SELECT, INSERT ON ibex_core.usage_records TO ibex_app;

-- The org's metering limits, NULL meaning none: tokens per minute (the proxy reserves and
-- reconciles them in Redis) and a spend limit per UTC calendar month in micro-USD (0: nothing
-- may be spent). Changed in the org's own context like its rate limit.
ALTER TABLE ibex_core.organizations
  ADD COLUMN tokens_per_minute integer
    CONSTRAINT organizations_tokens_per_minute_positive CHECK (tokens_per_minute > 0),
  ADD COLUMN monthly_budget_micro_usd bigint
    CONSTRAINT organizations_monthly_budget CHECK (monthly_budget_micro_usd >= 0
                                                   AND monthly_budget_micro_usd <= 9007199254740991);

GRANT UPDATE (tokens_per_minute, monthly_budget_micro_usd) ON ibex_core.organizations TO ibex_app;

-- A change of either limit is an org change: every cache that holds the org's state (auth's, and
-- the proxies' through WatchInvalidations) hears it on ibex_org_changed, as 0007 announces a
-- status or rate-limit change. A trigger of its own (0007's function), so 0007's trigger and any
-- later change to it stay as they are; one UPDATE that changes both watched sets sends one
-- notice (Postgres folds identical notices within a transaction).
CREATE TRIGGER organizations_notify_limits_changed
  AFTER UPDATE OF tokens_per_minute, monthly_budget_micro_usd ON ibex_core.organizations
  FOR EACH ROW
  WHEN (OLD.tokens_per_minute IS DISTINCT FROM NEW.tokens_per_minute
        OR OLD.monthly_budget_micro_usd IS DISTINCT FROM NEW.monthly_budget_micro_usd)
  EXECUTE FUNCTION ibex_core.notify_org_changed();

-- The token lookup (0003) also returns the org's limits, so a validated principal carries them to
-- the proxy (AuthorizeResponse fields 8 and 9) and the notice above drops every cached copy when
-- they change. Same argument, same narrow grant; the result grows, so DROP and CREATE.
DROP FUNCTION ibex_core.find_token_credential(uuid);

CREATE FUNCTION ibex_core.find_token_credential(p_token_id uuid)
RETURNS TABLE (
  id uuid,
  org_id uuid,
  name text,
  display_prefix text,
  secret_hash text,
  permissions numeric,
  created_by uuid,
  created_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  org_status text,
  org_rate_limit_per_minute integer,
  org_tokens_per_minute integer,
  org_monthly_budget_micro_usd bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.id, t.org_id, t.name, t.display_prefix, t.secret_hash, t.permissions, t.created_by,
         t.created_at, t.expires_at, t.revoked_at, t.last_used_at, o.status, o.rate_limit_per_minute,
         o.tokens_per_minute, o.monthly_budget_micro_usd
  FROM ibex_core.tokens t
  JOIN ibex_core.organizations o ON o.id = t.org_id
  WHERE t.id = p_token_id
$$;

REVOKE ALL ON FUNCTION ibex_core.find_token_credential(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ibex_core.find_token_credential(uuid) TO ibex_app;
