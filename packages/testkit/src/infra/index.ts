import { describe, it } from "vitest"
import { REQUIRE_REAL_INFRA_ENV, realInfraRequired } from "./required.js"

export { fallbackUnlessRealInfraRequired, REQUIRE_REAL_INFRA_ENV, realInfraRequired } from "./required.js"

/**
 * Suites that need real infrastructure (Postgres, Redis, NATS, a redis-server binary) run when
 * it is there and skip with a message when it is not, so `npm test` works on a laptop without
 * services. CI sets `IBEX_REQUIRE_REAL_INFRA=1` (`.ci/run`): then a suite that would skip fails
 * instead, so a run in which the real stack was missing can never go green.
 */
/**
 * `describe` for a real-infrastructure suite: the suite itself when `available`; otherwise, when
 * CI requires real infrastructure, one failing test that says what is missing; otherwise the
 * suite skipped, with `reason` printed.
 */
export const describeRealInfra =
  (available: boolean, reason: string) =>
  (name: string, body: () => void): void => {
    if (available) {
      describe(name, body)
      return
    }
    if (realInfraRequired()) {
      describe(name, () => {
        it(`needs real infrastructure (${REQUIRE_REAL_INFRA_ENV}=1)`, () => {
          throw new Error(`${REQUIRE_REAL_INFRA_ENV}=1 and this suite would skip: ${reason}`)
        })
      })
      return
    }
    console.warn(`${name}: skipped: ${reason}`)
    describe.skip(name, body)
  }
