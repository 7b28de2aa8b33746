import { Effect, Either, Layer } from "effect"
import { RateLimiterUnavailable } from "../errors.js"
import {
  type CounterAnswer,
  makeSeededUsageLimiter,
  SPEND_COUNT_IDLE_MS,
  type SpendCounter
} from "./seededUsageLimiter.js"
import { UsageLedger, type UsageLedgerShape } from "./UsageLedger.js"
import {
  type TokenWindow,
  tokensToCount,
  type UsageAdmission,
  UsageLimiter,
  type UsageLimiterShape,
  type UsageReservation
} from "./UsageLimiter.js"

const WINDOW_MS = 60_000

/** One org's count of a month: identified by the object itself (a settle names the count it reserved into). */
export interface SpendCount {
  spent: number
  /** Last written (Date.now()); unused for SPEND_COUNT_IDLE_MS, the count is gone, as Redis expires it. */
  touchedAt: number
}

/** The state two in-memory limiters share, like two proxies on one Redis. */
export interface UsageLimiterMemoryBackend {
  available: boolean
  readonly tats: Map<string, number>
  readonly spend: Map<string, SpendCount>
}

export const newUsageLimiterMemoryBackend = (): UsageLimiterMemoryBackend => ({
  available: true,
  tats: new Map(),
  spend: new Map()
})

const windowOf = (limit: number, tat: number, now: number): TokenWindow => {
  const interval = WINDOW_MS / limit
  return {
    limit,
    remaining: Math.max(0, Math.min(limit, Math.floor((now + WINDOW_MS - tat + 0.001) / interval))),
    resetAtMs: Math.ceil(Math.max(tat, now))
  }
}

/**
 * The in-memory spend counter, the same rules as the Redis script (one JavaScript turn is
 * atomic). A process that restarts starts with no counts, and rebuilds each org's month from the
 * ledger as the Redis adapter does after a Redis that restarted empty.
 */
export const makeSpendCounterMemory = (backend: UsageLimiterMemoryBackend): SpendCounter => {
  const down = Either.left(new RateLimiterUnavailable())
  const countAt = (key: string, now: number): SpendCount | undefined => {
    const count = backend.spend.get(key)
    if (count === undefined || now - count.touchedAt <= SPEND_COUNT_IDLE_MS) return count
    backend.spend.delete(key)
    return undefined
  }
  const reserveAt = (r: UsageReservation, now: number): Either.Either<CounterAnswer, RateLimiterUnavailable> => {
    if (!backend.available) return down
    const count = countAt(`${r.orgId}:${r.month}`, now)
    if (r.monthlyBudgetMicroUsd !== null && count === undefined) return Either.right({ _tag: "Unseeded" })
    let newTat: number | undefined
    let window: TokenWindow | null = null
    if (r.tokensPerMinute !== null) {
      const limit = r.tokensPerMinute
      const interval = WINDOW_MS / limit
      const tat = Math.max(backend.tats.get(r.orgId) ?? now, now)
      newTat = tat + tokensToCount(r.tokens, limit) * interval
      if (newTat - now > WINDOW_MS) {
        const admission: UsageAdmission = {
          _tag: "TokensExceeded",
          window: windowOf(limit, tat, now),
          retryAfterMs: Math.ceil(newTat - now - WINDOW_MS)
        }
        return Either.right({ _tag: "Counted", admission, count: undefined })
      }
      window = windowOf(limit, newTat, now)
    }
    if (
      r.monthlyBudgetMicroUsd !== null &&
      count !== undefined &&
      count.spent + r.costMicroUsd > r.monthlyBudgetMicroUsd
    )
      return Either.right({ _tag: "Counted", admission: { _tag: "BudgetExceeded" }, count: undefined })
    if (newTat !== undefined) backend.tats.set(r.orgId, newTat)
    if (count !== undefined) {
      count.spent += r.costMicroUsd
      count.touchedAt = now
    }
    return Either.right({ _tag: "Counted", admission: { _tag: "Admitted", tokens: window }, count })
  }
  return {
    reserve: (r, done) => done(reserveAt(r, Date.now())),
    seed: (orgId, month, spent, done) => {
      if (!backend.available) return done(down)
      const key = `${orgId}:${month}`
      if (countAt(key, Date.now()) === undefined) backend.spend.set(key, { spent, touchedAt: Date.now() })
      done(Either.void)
    },
    settle: (r, actual, count, done) => {
      if (!backend.available) return done(down)
      const now = Date.now()
      const current = countAt(`${r.orgId}:${r.month}`, now)
      if (current !== undefined) {
        current.spent += current === count ? actual.costMicroUsd - r.costMicroUsd : actual.costMicroUsd
        current.touchedAt = now
      }
      if (r.tokensPerMinute !== null) {
        const interval = WINDOW_MS / r.tokensPerMinute
        const reserved = tokensToCount(r.tokens, r.tokensPerMinute)
        const tat = backend.tats.get(r.orgId)
        if (tat !== undefined) backend.tats.set(r.orgId, tat + (actual.tokens - reserved) * interval)
      }
      done(Either.void)
    },
    spent: (orgId, month) =>
      Effect.suspend(() =>
        backend.available
          ? Effect.succeed(countAt(`${orgId}:${month}`, Date.now())?.spent ?? 0)
          : Effect.fail(new RateLimiterUnavailable())
      )
  }
}

/**
 * The in-memory UsageLimiter over `backend`, its months rebuilt from `ledger`. Production uses it
 * for the embedded default (one proxy process).
 */
export const makeUsageLimiterMemory = (
  ledger: UsageLedgerShape,
  backend: UsageLimiterMemoryBackend = newUsageLimiterMemoryBackend()
): Effect.Effect<UsageLimiterShape> => makeSeededUsageLimiter(makeSpendCounterMemory(backend), ledger)

/** The in-memory UsageLimiter (one process), its months rebuilt from the UsageLedger. */
export const UsageLimiterMemory: Layer.Layer<UsageLimiter, never, UsageLedger> = Layer.effect(
  UsageLimiter,
  Effect.flatMap(UsageLedger, (ledger) => makeUsageLimiterMemory(ledger))
)
