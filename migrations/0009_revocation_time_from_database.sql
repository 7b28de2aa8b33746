-- 0009: a revocation's time is the database's, and a time in the future can be corrected.
--
-- Issue 14, item 3. Until now the application stamped revoked_at with its own clock, and a
-- revoked_at in the future counted as "not revoked yet"; 0006 then refused the correction (moving
-- the time back), so a token revoked by an instance whose clock ran ahead kept working until that
-- moment. From here:
--  * any non-null revoked_at means revoked (the rule in the code);
--  * the stores revoke with now(); and whoever writes a revocation (an operator's UPDATE, an INSERT
--    with revoked_at), a time later than the database's now() is stored as now();
--  * a revocation stays final (never cleared, never postponed), but a revoked_at that lies in the
--    future may be brought back to now or earlier: that is the correction 0006 refused.
CREATE OR REPLACE FUNCTION ibex_core.keep_revocation_final()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' OR OLD.revoked_at IS NULL THEN
    -- A new revocation: never later than the database's clock.
    IF NEW.revoked_at IS NOT NULL AND NEW.revoked_at > now() THEN
      NEW.revoked_at := now();
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.revoked_at IS NULL THEN
    RAISE EXCEPTION 'a token revocation is final' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    -- The one change allowed: a time in the future brought back (to now at the latest).
    IF OLD.revoked_at > now() AND NEW.revoked_at < OLD.revoked_at THEN
      NEW.revoked_at := LEAST(NEW.revoked_at, now());
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a token revocation is final' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

-- 0006's trigger covers UPDATE; an INSERT that arrives already revoked gets the same clamp.
CREATE TRIGGER tokens_revocation_time_on_insert
  BEFORE INSERT ON ibex_core.tokens
  FOR EACH ROW
  WHEN (NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION ibex_core.keep_revocation_final();

-- Rows already carrying a future time get now(). The table forces row-level security on its owner
-- too; lifted for this one statement, inside this migration's transaction.
ALTER TABLE ibex_core.tokens NO FORCE ROW LEVEL SECURITY;
UPDATE ibex_core.tokens SET revoked_at = now() WHERE revoked_at > now();
ALTER TABLE ibex_core.tokens FORCE ROW LEVEL SECURITY;
