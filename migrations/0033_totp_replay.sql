-- 0033: a TOTP code works once. The last time step a sign-in used is kept per operator; a code of
-- that step or an earlier one is refused (RFC 6238 §5.2), set by one conditional UPDATE.
ALTER TABLE ibex_core.operators ADD COLUMN totp_last_step bigint;
GRANT UPDATE (totp_last_step) ON ibex_core.operators TO ibex_app;
