import { describe, expect, it } from "@effect/vitest"
import { monthOf, type UsageAdmission, type UsageLimiterShape, type UsageReservation } from "@ibex/domain"
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
