import { Context, type Effect, type Either } from "effect"
import type { RateLimiterUnavailable } from "../errors.js"

/**
 * Token limits and spend budgets, counted at admission. A request reserves what it may use at
 * most (its prompt's estimate plus its output cap, and the cost of both) before it is sent;
 * when it ends, `settle` replaces the reservation by what it used. Every proxy shares one count
 * (Redis), so two proxies can never admit more than the limit between them.
 */
export interface UsageReservation {
  readonly orgId: string
  readonly tokens: number
  /** Null: no token limit for this org. */
  readonly tokensPerMinute: number | null
  readonly costMicroUsd: number
  /** Null: no budget; spend is still counted. */
  readonly monthlyBudgetMicroUsd: number | null
  /** The calendar month (UTC) the spend counts against: `YYYY-MM`. */
  readonly month: string
}

export interface TokenWindow {
  readonly limit: number
  /** Tokens admissible right now, after this reservation. */
  readonly remaining: number
  readonly resetAtMs: number
}

export type UsageAdmission =
  | { readonly _tag: "Admitted"; readonly tokens: TokenWindow | null }
  | { readonly _tag: "TokensExceeded"; readonly window: TokenWindow; readonly retryAfterMs: number }
  | { readonly _tag: "BudgetExceeded" }

export interface UsageLimiterShape {
  /** Atomically: refuses when either limit would be passed, else counts the reservation against both. */
  readonly reserve: (reservation: UsageReservation) => Effect.Effect<UsageAdmission, RateLimiterUnavailable>
  /**
   * Replaces an admitted reservation by the actual tokens and cost (more or less than reserved).
   * Given the reservation object `reserve` was given: an adapter may remember by it which count
   * the reservation went into (a copy is settled as if its count had been lost: the whole actual
   * cost is added and the reservation stays counted, an over-count).
   */
  readonly settle: (
    reservation: UsageReservation,
    actual: { readonly tokens: number; readonly costMicroUsd: number }
  ) => Effect.Effect<void, RateLimiterUnavailable>
  /**
   * `reserve` and `settle` answered through a callback, without a fiber (the edge's warm path).
   * Optional: an adapter offers them when its decision is a callback underneath; the contract
   * suite holds them to `reserve` and `settle`'s counts.
   */
  readonly reserveNow?: (
    reservation: UsageReservation,
    done: (result: Either.Either<UsageAdmission, RateLimiterUnavailable>) => void
  ) => void
  readonly settleNow?: (
    reservation: UsageReservation,
    actual: { readonly tokens: number; readonly costMicroUsd: number },
    done: (result: Either.Either<void, RateLimiterUnavailable>) => void
  ) => void
  /** What the org has spent this month as counted here (micro-USD), reservations in flight included. */
  readonly spent: (orgId: string, month: string) => Effect.Effect<number, RateLimiterUnavailable>
}

export class UsageLimiter extends Context.Tag("@ibex/domain/UsageLimiter")<UsageLimiter, UsageLimiterShape>() {}

/**
 * A month key in UTC. The last month's bounds are remembered: every metered request asks, and a
 * Date and an ISO string per request were visible in the forwarded chat's profile.
 */
let lastMonth = { from: 0, until: 0, key: "" }
export const monthOf = (ms: number): string => {
  if (ms >= lastMonth.from && ms < lastMonth.until) return lastMonth.key
  const d = new Date(ms)
  const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  lastMonth = { from, until: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1), key: d.toISOString().slice(0, 7) }
  return lastMonth.key
}

/**
 * The token window is a GCRA over tokens (each token costs 60 000 / limit ms of the window), so
 * a reservation larger than the whole limit could never be admitted: it is capped at the limit.
 */
export const tokensToCount = (tokens: number, limit: number): number => Math.max(1, Math.min(tokens, limit))
