-- 0004: revocation notices.
--
-- Setting revoked_at announces the token id on channel ibex_token_revoked, in the same
-- transaction as the update (NOTIFY is delivered at commit, and not at all on rollback).
-- A trigger rather than a call in the store, so that every path that revokes (the store, an
-- operator's UPDATE) reaches the auth instances' caches. The payload is the token id only.
CREATE FUNCTION ibex_core.notify_token_revoked()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('ibex_token_revoked', NEW.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER tokens_notify_revoked
  AFTER UPDATE OF revoked_at ON ibex_core.tokens
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION ibex_core.notify_token_revoked();
