-- 0006: a revocation is final.
--
-- Once revoked_at is set it never changes: not cleared, not moved. Instances that heard the
-- revocation keep refusing the token by id, so an "un-revoke" would make nodes disagree and
-- bring a revoked token back to life on the others. The store's own revoke
-- (SET revoked_at = COALESCE(revoked_at, $at)) leaves a set value as it is and passes.
CREATE FUNCTION ibex_core.keep_revocation_final()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    RAISE EXCEPTION 'a token revocation is final' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tokens_revocation_final
  BEFORE UPDATE OF revoked_at ON ibex_core.tokens
  FOR EACH ROW
  EXECUTE FUNCTION ibex_core.keep_revocation_final();
