import { Context, type Effect } from "effect"
import type { RateLimiterUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import type { RateLimitDecision, RateLimitPolicy } from "../RateLimit.js"

export interface RateLimiterShape {
  /** Counts one request for the org and decides, atomically across every proxy instance. */
  readonly consume: (orgId: OrgId, policy: RateLimitPolicy) => Effect.Effect<RateLimitDecision, RateLimiterUnavailable>
}

export class RateLimiter extends Context.Tag("@ibex/domain/RateLimiter")<RateLimiter, RateLimiterShape>() {}
