import { Context, type Effect, type Either } from "effect"
import type { RateLimiterUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import type { RateLimitDecision, RateLimitPolicy } from "../RateLimit.js"

export interface RateLimiterShape {
  /** Counts one request for the org and decides, atomically across every proxy instance. */
  readonly consume: (orgId: OrgId, policy: RateLimitPolicy) => Effect.Effect<RateLimitDecision, RateLimiterUnavailable>
  /**
   * The same decision as `consume`, counted in the same place, handed to `done` once, without a
   * fiber: for the proxy's warm path, which answers a request without one (one fiber per request
   * was most of a warm probe's Effect cost). Optional: an adapter offers it when its decision is
   * a callback underneath; the contract suite holds it to `consume`'s rules.
   */
  readonly consumeNow?: (
    orgId: OrgId,
    policy: RateLimitPolicy,
    done: (result: Either.Either<RateLimitDecision, RateLimiterUnavailable>) => void
  ) => void
}

export class RateLimiter extends Context.Tag("@ibex/domain/RateLimiter")<RateLimiter, RateLimiterShape>() {}
