/**
 * CI sets `IBEX_REQUIRE_REAL_INFRA=1` (`.ci/run`): a test that would skip, or fall back from
 * Postgres to PGlite, for lack of real infrastructure fails instead. Free of vitest, so
 * provisioning (also used by the benchmarks) can read it.
 */
export const REQUIRE_REAL_INFRA_ENV = "IBEX_REQUIRE_REAL_INFRA"

export const realInfraRequired = (): boolean => process.env[REQUIRE_REAL_INFRA_ENV] === "1"

/**
 * What a suite falls back to when `missing` (an environment variable naming real
 * infrastructure) is unset: `fallback` normally; a throw under IBEX_REQUIRE_REAL_INFRA=1.
 */
export const fallbackUnlessRealInfraRequired = <A>(missing: string, fallback: A): A => {
  if (realInfraRequired())
    throw new Error(`${REQUIRE_REAL_INFRA_ENV}=1 and ${missing} is not set: refusing to fall back`)
  return fallback
}
