-- 0007: organization and token change notices, and the feed's heartbeat channel.
--
-- Every cache of a verdict (auth's validator and agent verifier, and the proxies' edge cache fed
-- by auth's invalidation stream) must hear of every change that could turn an accepted request
-- into a refused one. 0004 and 0005 announce revocations and agent changes; this adds:
--  * ibex_org_changed (payload: org id) when an org's status or rate limit changes, or it is
--    deleted: a disabled org's tokens stop working within the revocation SLA, as revoked ones do;
--  * ibex_token_changed (payload: token id) when a token's permissions or expiry change, or the
--    row is deleted: its cached principal is dropped (a deleted token is refused like an unknown
--    one from then on).
-- Triggers, not calls in the stores, so every path (the stores, the CLI, an operator's UPDATE)
-- reaches the caches. Payloads are ids only.
--
-- ibex_feed_heartbeat carries no trigger: each auth instance NOTIFYs it on its own LISTEN
-- connection's server and expects to hear it back, which proves the connection is alive
-- (a silently dead connection never reports an error; only a missing echo shows it).
CREATE FUNCTION ibex_core.notify_org_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('ibex_org_changed', COALESCE(NEW.id, OLD.id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER organizations_notify_changed
  AFTER UPDATE OF status, rate_limit_per_minute ON ibex_core.organizations
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.rate_limit_per_minute IS DISTINCT FROM NEW.rate_limit_per_minute)
  EXECUTE FUNCTION ibex_core.notify_org_changed();

CREATE TRIGGER organizations_notify_deleted
  AFTER DELETE ON ibex_core.organizations
  FOR EACH ROW
  EXECUTE FUNCTION ibex_core.notify_org_changed();

CREATE FUNCTION ibex_core.notify_token_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('ibex_token_changed', COALESCE(NEW.id, OLD.id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER tokens_notify_changed
  AFTER UPDATE OF permissions, expires_at, org_id ON ibex_core.tokens
  FOR EACH ROW
  WHEN (OLD.permissions IS DISTINCT FROM NEW.permissions
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
        OR OLD.org_id IS DISTINCT FROM NEW.org_id)
  EXECUTE FUNCTION ibex_core.notify_token_changed();

CREATE TRIGGER tokens_notify_deleted
  AFTER DELETE ON ibex_core.tokens
  FOR EACH ROW
  EXECUTE FUNCTION ibex_core.notify_token_changed();
