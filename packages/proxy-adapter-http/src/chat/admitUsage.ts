import {
  BudgetExceeded,
  type Principal,
  type RateLimiterUnavailable,
  TokenRateLimited,
  UsageLimiter,
  type UsageReservation
} from "@ibex/domain"
import { Effect } from "effect"
import { addHeader, type RequestState } from "../edge/RequestState.js"
import type { ProxyMetrics } from "../Metrics.js"

/**
 * Token limit and budget, counted at admission (before the provider is called) from the
 * request's reservation. Returns whether the reservation was counted (and so must be settled).
 * When the counter is unreachable: an org with a budget is refused (money is not spent on a
 * guess, 503), an org with only a token limit passes uncounted, like the request limiter. An org
 * with neither limit costs no remote call: its spend is in its usage records.
 */
export const admitUsage = (
  principal: Principal,
  reservation: UsageReservation,
  state: RequestState,
  metrics: ProxyMetrics
): Effect.Effect<boolean, TokenRateLimited | BudgetExceeded | RateLimiterUnavailable, UsageLimiter> =>
  principal.tokensPerMinute === null && principal.monthlyBudgetMicroUsd === null
    ? Effect.succeed(false)
    : reserve(principal, reservation, state, metrics)

const reserve = (
  principal: Principal,
  reservation: UsageReservation,
  state: RequestState,
  metrics: ProxyMetrics
): Effect.Effect<boolean, TokenRateLimited | BudgetExceeded | RateLimiterUnavailable, UsageLimiter> =>
  Effect.flatMap(UsageLimiter, (limiter) => limiter.reserve(reservation)).pipe(
    Effect.flatMap((admission): Effect.Effect<boolean, TokenRateLimited | BudgetExceeded> => {
      const window =
        admission._tag === "Admitted" ? admission.tokens : admission._tag === "TokensExceeded" ? admission.window : null
      if (window !== null) {
        addHeader(state, "X-RateLimit-Limit-Tokens", String(window.limit))
        addHeader(state, "X-RateLimit-Remaining-Tokens", String(window.remaining))
        addHeader(state, "X-RateLimit-Reset-Tokens", String(Math.ceil(window.resetAtMs / 1000)))
      }
      if (admission._tag === "Admitted") {
        metrics.usageAdmission("admitted")
        return Effect.succeed(true)
      }
      if (admission._tag === "TokensExceeded") {
        metrics.usageAdmission("tokens_exceeded")
        return Effect.fail(
          new TokenRateLimited({
            limit: admission.window.limit,
            remaining: admission.window.remaining,
            resetAtMs: admission.window.resetAtMs,
            retryAfterMs: admission.retryAfterMs
          })
        )
      }
      metrics.usageAdmission("budget_exceeded")
      return Effect.fail(new BudgetExceeded())
    }),
    Effect.catchTag("RateLimiterUnavailable", (e: RateLimiterUnavailable) => {
      metrics.usageAdmission("unavailable")
      return principal.monthlyBudgetMicroUsd === null ? Effect.succeed(false) : Effect.fail(e)
    })
  )
