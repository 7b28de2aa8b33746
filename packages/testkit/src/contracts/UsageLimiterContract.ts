import { describe, expect, it } from "@effect/vitest"
import {
  monthOf,
  type RateLimiterUnavailable,
  type UsageAdmission,
  type UsageLimiterShape,
  type UsageReservation
} from "@ibex/domain"
import { Effect, type Scope } from "effect"

/** Two adapter instances on one backend: two proxies sharing one Redis. */
export interface UsageLimiterPair {
  readonly a: UsageLimiterShape
  readonly b: UsageLimiterShape
}

const newOrg = () => crypto.randomUUID()

const reservation = (orgId: string, over: Partial<UsageReservation> = {}): UsageReservation => ({
  orgId,
  tokens: 100,
  tokensPerMinute: null,
  costMicroUsd: 1_000,
  monthlyBudgetMicroUsd: null,
  month: monthOf(Date.now()),
  ...over
})

const admitted = (results: ReadonlyArray<UsageAdmission>) => results.filter((r) => r._tag === "Admitted").length

/** `reserveNow` as an Effect, checking it calls back exactly once. */
const reserveNowOf = (limiter: UsageLimiterShape, r: UsageReservation) =>
  Effect.async<UsageAdmission, RateLimiterUnavailable>((resume) => {
    if (limiter.reserveNow === undefined) return resume(Effect.die("this adapter offers no reserveNow"))
    let calls = 0
    limiter.reserveNow(r, (result) => {
      calls++
      if (calls > 1) throw new Error("reserveNow called back twice")
      resume(result)
    })
  })

const settleNowOf = (
  limiter: UsageLimiterShape,
  r: UsageReservation,
  actual: { readonly tokens: number; readonly costMicroUsd: number }
) =>
  Effect.async<void, RateLimiterUnavailable>((resume) => {
    if (limiter.settleNow === undefined) return resume(Effect.die("this adapter offers no settleNow"))
    limiter.settleNow(r, actual, resume)
  })

/**
 * The UsageLimiter contract, over every adapter: reservations count against the token window
 * and the month's spend atomically, exactly across instances, and settling replaces a
 * reservation by what was used.
 */
export const usageLimiterContract = (name: string, pair: Effect.Effect<UsageLimiterPair, never, Scope.Scope>) =>
  describe(`UsageLimiter contract [${name}]`, () => {
    it.scoped("with no limits everything is admitted and the spend is counted", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org)
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* b.reserve(r))._tag).toBe("Admitted")
        expect(yield* a.spent(org, r.month)).toBe(2_000)
      })
    )

    it.scoped("a budget that allows 10 admits exactly 10 of 100 concurrent reservations over two instances", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 10_000 })
        const results = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).reserve(r)),
          { concurrency: "unbounded" }
        )
        expect(admitted(results)).toBe(10)
        expect(results.filter((x) => x._tag === "BudgetExceeded")).toHaveLength(90)
        expect(yield* b.spent(org, r.month)).toBe(10_000)
      })
    )

    it.scoped(
      "reserveNow counts with reserve: a budget and a token limit admit exactly their share of 120 concurrent reservations, mixed across both methods and two instances",
      () =>
        Effect.gen(function* () {
          const { a, b } = yield* pair
          const byBudget = reservation(newOrg(), { monthlyBudgetMicroUsd: 12_000 })
          const byTokens = reservation(newOrg(), { tokensPerMinute: 1_200, tokens: 100 })
          for (const r of [byBudget, byTokens]) {
            const results = yield* Effect.all(
              Array.from({ length: 120 }, (_, i) => {
                const instance = i % 2 === 0 ? a : b
                return i % 3 === 0 ? instance.reserve(r) : reserveNowOf(instance, r)
              }),
              { concurrency: "unbounded" }
            )
            expect(admitted(results)).toBe(12)
          }
          expect(yield* a.spent(byBudget.orgId, byBudget.month)).toBe(12_000)
        })
    )

    it.scoped("settleNow replaces a reservation by what was used, as settle does", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 2_000, tokensPerMinute: 1_000, tokens: 500 })
        expect((yield* reserveNowOf(a, r))._tag).toBe("Admitted")
        expect((yield* reserveNowOf(b, r))._tag).toBe("Admitted")
        expect((yield* reserveNowOf(a, r))._tag).not.toBe("Admitted")
        yield* settleNowOf(a, r, { tokens: 100, costMicroUsd: 400 })
        expect(yield* b.spent(org, r.month)).toBe(1_400)
        const next = yield* reserveNowOf(b, { ...r, tokens: 300, costMicroUsd: 600 })
        expect(next._tag).toBe("Admitted")
        expect(yield* a.spent(org, r.month)).toBe(2_000)
      })
    )

    it.scoped("settling below the reservation gives the difference back; above it takes more", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 2_000 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* b.reserve(r))._tag).toBe("BudgetExceeded")
        yield* a.settle(r, { tokens: 10, costMicroUsd: 400 })
        expect(yield* b.spent(org, r.month)).toBe(1_400)
        expect((yield* b.reserve({ ...r, costMicroUsd: 600 }))._tag).toBe("Admitted")
        yield* b.settle({ ...r, costMicroUsd: 600 }, { tokens: 10, costMicroUsd: 900 })
        expect(yield* a.spent(org, r.month)).toBe(2_300)
        expect((yield* a.reserve({ ...r, costMicroUsd: 1 }))._tag).toBe("BudgetExceeded")
      })
    )

    it.scoped("spend is counted per month", () =>
      Effect.gen(function* () {
        const { a } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 1_000 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("BudgetExceeded")
        expect((yield* a.reserve({ ...r, month: "2099-01" }))._tag).toBe("Admitted")
      })
    )

    it.scoped("a token limit admits its tokens per minute across instances, exactly, under concurrency", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { tokensPerMinute: 1_000, tokens: 100 })
        const results = yield* Effect.all(
          Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).reserve(r)),
          { concurrency: "unbounded" }
        )
        expect(admitted(results)).toBe(10)
        const refused = results.find((x) => x._tag === "TokensExceeded")
        expect(refused?._tag === "TokensExceeded" ? refused.retryAfterMs : 0).toBeGreaterThan(0)
        expect(refused?._tag === "TokensExceeded" ? refused.window.limit : 0).toBe(1_000)
      })
    )

    it.scoped("settling with fewer tokens than reserved frees them for the next request", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { tokensPerMinute: 1_000, tokens: 500 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* b.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("TokensExceeded")
        yield* a.settle(r, { tokens: 100, costMicroUsd: 1_000 })
        const next = yield* b.reserve({ ...r, tokens: 300 })
        expect(next._tag).toBe("Admitted")
        expect(next._tag === "Admitted" ? (next.tokens?.remaining ?? -1) : -1).toBeLessThanOrEqual(100)
      })
    )

    it.scoped(
      "a reservation larger than the whole limit is capped at it (admitted from rest, never forever refused)",
      () =>
        Effect.gen(function* () {
          const { a } = yield* pair
          const org = newOrg()
          const r = reservation(org, { tokensPerMinute: 1_000, tokens: 50_000 })
          expect((yield* a.reserve(r))._tag).toBe("Admitted")
          expect((yield* a.reserve({ ...r, tokens: 1 }))._tag).toBe("TokensExceeded")
        })
    )

    it.scoped("a refusal by the budget counts nothing against the token window", () =>
      Effect.gen(function* () {
        const { a } = yield* pair
        const org = newOrg()
        const r = reservation(org, { tokensPerMinute: 1_000, tokens: 400, monthlyBudgetMicroUsd: 1_000 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("BudgetExceeded")
        const third = yield* a.reserve({ ...r, monthlyBudgetMicroUsd: null })
        expect(third._tag === "Admitted" ? third.tokens?.remaining : -1).toBe(200)
      })
    )
  })
