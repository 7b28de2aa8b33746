import { Effect, Either, Layer } from "effect"
import { RateLimiterUnavailable } from "../errors.js"
import {
  type TokenWindow,
  tokensToCount,
  type UsageAdmission,
  UsageLimiter,
  type UsageLimiterShape,
  type UsageReservation
} from "./UsageLimiter.js"

const WINDOW_MS = 60_000

/** The state two in-memory limiters share, like two proxies on one Redis. */
export interface UsageLimiterMemoryBackend {
  available: boolean
  readonly tats: Map<string, number>
  readonly spend: Map<string, number>
}

const windowOf = (limit: number, tat: number, now: number): TokenWindow => {
  const interval = WINDOW_MS / limit
  return {
    limit,
    remaining: Math.max(0, Math.min(limit, Math.floor((now + WINDOW_MS - tat + 0.001) / interval))),
    resetAtMs: Math.ceil(Math.max(tat, now))
  }
}

/**
 * The in-memory UsageLimiter, the same rules as the Redis script (one JavaScript turn is
 * atomic). Production uses it for the embedded default: one proxy process.
 */
export const makeUsageLimiterMemory = (
  backend: UsageLimiterMemoryBackend = { available: true, tats: new Map(), spend: new Map() }
): UsageLimiterShape & { readonly setAvailable: (available: boolean) => void } => {
  const reserveAt = (r: UsageReservation, now: number): Either.Either<UsageAdmission, RateLimiterUnavailable> => {
    if (!backend.available) return Either.left(new RateLimiterUnavailable())
    const spendKey = `${r.orgId}:${r.month}`
    const spent = backend.spend.get(spendKey) ?? 0
    let newTat: number | undefined
    let window: TokenWindow | null = null
    if (r.tokensPerMinute !== null) {
      const limit = r.tokensPerMinute
      const interval = WINDOW_MS / limit
      const tat = Math.max(backend.tats.get(r.orgId) ?? now, now)
      newTat = tat + tokensToCount(r.tokens, limit) * interval
      if (newTat - now > WINDOW_MS) {
        return Either.right({
          _tag: "TokensExceeded",
          window: windowOf(limit, tat, now),
          retryAfterMs: Math.ceil(newTat - now - WINDOW_MS)
        })
      }
      window = windowOf(limit, newTat, now)
    }
    if (r.monthlyBudgetMicroUsd !== null && spent + r.costMicroUsd > r.monthlyBudgetMicroUsd)
      return Either.right({ _tag: "BudgetExceeded" })
    if (newTat !== undefined) backend.tats.set(r.orgId, newTat)
    backend.spend.set(spendKey, spent + r.costMicroUsd)
    return Either.right({ _tag: "Admitted", tokens: window })
  }
  const settleNow = (
    r: UsageReservation,
    actual: { readonly tokens: number; readonly costMicroUsd: number }
  ): Either.Either<void, RateLimiterUnavailable> => {
    if (!backend.available) return Either.left(new RateLimiterUnavailable())
    const spendKey = `${r.orgId}:${r.month}`
    backend.spend.set(spendKey, (backend.spend.get(spendKey) ?? 0) + actual.costMicroUsd - r.costMicroUsd)
    if (r.tokensPerMinute !== null) {
      const interval = WINDOW_MS / r.tokensPerMinute
      const reserved = tokensToCount(r.tokens, r.tokensPerMinute)
      const tat = backend.tats.get(r.orgId)
      if (tat !== undefined) backend.tats.set(r.orgId, tat + (actual.tokens - reserved) * interval)
    }
    return Either.void
  }
  return {
    setAvailable: (available) => {
      backend.available = available
    },
    // One time source for both forms: a reservation and a callback reservation must see one window.
    reserve: (r) => Effect.suspend(() => reserveAt(r, Date.now())),
    reserveNow: (r, done) => done(reserveAt(r, Date.now())),
    settle: (r, actual) => Effect.suspend(() => settleNow(r, actual)),
    settleNow: (r, actual, done) => done(settleNow(r, actual)),
    spent: (orgId, month) =>
      Effect.suspend(() =>
        backend.available
          ? Effect.succeed(backend.spend.get(`${orgId}:${month}`) ?? 0)
          : Effect.fail(new RateLimiterUnavailable())
      )
  }
}

export const UsageLimiterMemory: Layer.Layer<UsageLimiter> = Layer.sync(UsageLimiter, () => makeUsageLimiterMemory())
