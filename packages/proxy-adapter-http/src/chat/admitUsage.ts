import {
  BudgetExceeded,
  type Principal,
  type RateLimiterUnavailable,
  TokenRateLimited,
  type UsageAdmission,
  UsageLimiter,
  type UsageReservation
} from "@ibex/domain"
import { Effect, Either } from "effect"
import { addHeader, type RequestState } from "../edge/RequestState.js"
import type { ProxyMetrics } from "../Metrics.js"

/** An org with neither a token limit nor a budget reserves nothing: its spend is in its usage records. */
export const reservesUsage = (principal: Principal): boolean =>
  principal.tokensPerMinute !== null || principal.monthlyBudgetMicroUsd !== null

/**
 * The counter's answer to a reservation, as the request's outcome: whether it was counted (and
 * so must be settled), or why it is refused. When the counter is unreachable: an org with a
 * budget is refused (money is not spent on a guess, 503), an org with only a token limit passes
 * uncounted, like the request limiter.
 */
export const applyAdmission = (
  principal: Principal,
  answer: Either.Either<UsageAdmission, RateLimiterUnavailable>,
  state: RequestState,
  metrics: ProxyMetrics
): Either.Either<boolean, TokenRateLimited | BudgetExceeded | RateLimiterUnavailable> => {
  if (Either.isLeft(answer)) {
    metrics.usageAdmission("unavailable")
    return principal.monthlyBudgetMicroUsd === null ? Either.right(false) : Either.left(answer.left)
  }
  const admission = answer.right
  const window =
    admission._tag === "Admitted" ? admission.tokens : admission._tag === "TokensExceeded" ? admission.window : null
  if (window !== null) {
    addHeader(state, "X-RateLimit-Limit-Tokens", String(window.limit))
    addHeader(state, "X-RateLimit-Remaining-Tokens", String(window.remaining))
    addHeader(state, "X-RateLimit-Reset-Tokens", String(Math.ceil(window.resetAtMs / 1000)))
  }
  if (admission._tag === "Admitted") {
    metrics.usageAdmission("admitted")
    return Either.right(true)
  }
  if (admission._tag === "TokensExceeded") {
    metrics.usageAdmission("tokens_exceeded")
    return Either.left(
      new TokenRateLimited({
        limit: admission.window.limit,
        remaining: admission.window.remaining,
        resetAtMs: admission.window.resetAtMs,
        retryAfterMs: admission.retryAfterMs
      })
    )
  }
  metrics.usageAdmission("budget_exceeded")
  return Either.left(new BudgetExceeded())
}

/**
 * Token limit and budget, counted at admission (before the provider is called) from the
 * request's reservation. Returns whether the reservation was counted (and so must be settled).
 */
export const admitUsage = (
  principal: Principal,
  reservation: UsageReservation,
  state: RequestState,
  metrics: ProxyMetrics
): Effect.Effect<boolean, TokenRateLimited | BudgetExceeded | RateLimiterUnavailable, UsageLimiter> =>
  reservesUsage(principal)
    ? Effect.flatMap(UsageLimiter, (limiter) =>
        Effect.flatMap(Effect.either(limiter.reserve(reservation)), (answer) =>
          applyAdmission(principal, answer, state, metrics)
        )
      )
    : Effect.succeed(false)
