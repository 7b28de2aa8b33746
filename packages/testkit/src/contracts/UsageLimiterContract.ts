import { describe, expect, it } from "@effect/vitest"
import {
  monthOf,
  type RateLimiterUnavailable,
  ServiceDegraded,
  type UsageAdmission,
  type UsageLedgerShape,
  type UsageLimiterShape,
  type UsageReservation
} from "@ibex/domain"
import { Effect, type Scope } from "effect"

/** Two adapter instances on one backend: two proxies sharing one Redis. */
export interface UsageLimiterPair {
  readonly a: UsageLimiterShape
  readonly b: UsageLimiterShape
  /** The backend loses every count (a Redis that restarted empty). */
  readonly lose: Effect.Effect<void>
}

/**
 * The usage ledger the contract controls: each org's month spend (read when a call answers), its
 * calls, an outage switch, and each call's delay (a remote ledger always answers later than the
 * call: requests that miss together must share one read).
 */
export interface ContractLedger extends UsageLedgerShape {
  readonly spend: Map<string, number>
  calls: number
  down: boolean
  /** The delay of the call with this index (0-based); others take 2 ms. */
  readonly delays: Map<number, number>
}

const contractLedger = (): ContractLedger => {
  const ledger: ContractLedger = {
    spend: new Map(),
    calls: 0,
    down: false,
    delays: new Map(),
    monthSpend: (orgId, month) =>
      Effect.suspend(() => {
        const delay = ledger.delays.get(ledger.calls) ?? 2
        ledger.calls++
        return Effect.zipRight(
          Effect.sleep(delay),
          Effect.suspend(() =>
            ledger.down
              ? Effect.fail(new ServiceDegraded())
              : Effect.succeed(ledger.spend.get(`${orgId}:${month}`) ?? 0)
          )
        )
      })
  }
  return ledger
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
 * and the month's spend atomically, exactly across instances; settling replaces a reservation
 * by what was used; a month's count missing is rebuilt from the ledger, once. `makePair` builds
 * the adapter over the ledger the contract controls; a settle is given the reservation object
 * its reserve was.
 */
export const usageLimiterContract = (
  name: string,
  makePair: (ledger: UsageLedgerShape) => Effect.Effect<UsageLimiterPair, never, Scope.Scope>
) =>
  describe(`UsageLimiter contract [${name}]`, () => {
    let ledger = contractLedger()
    const pair = Effect.suspend(() => {
      ledger = contractLedger()
      return makePair(ledger)
    })

    it.scopedLive(
      "without a budget a reservation is admitted, and its spend counted only into a month already counted",
      () =>
        Effect.gen(function* () {
          const { a, b } = yield* pair
          const org = newOrg()
          const r = reservation(org)
          expect((yield* a.reserve(r))._tag).toBe("Admitted")
          expect((yield* b.reserve(r))._tag).toBe("Admitted")
          expect(yield* a.spent(org, r.month)).toBe(0)
          expect(ledger.calls).toBe(0)
          expect((yield* a.reserve({ ...r, monthlyBudgetMicroUsd: 10_000 }))._tag).toBe("Admitted")
          expect((yield* b.reserve(r))._tag).toBe("Admitted")
          expect(yield* a.spent(org, r.month)).toBe(2_000)
        })
    )

    it.scopedLive("a budget's first reservation of a month starts the count from the ledger", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 10_000 })
        ledger.spend.set(`${org}:${r.month}`, 9_000)
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* b.reserve(r))._tag).toBe("BudgetExceeded")
        expect(yield* b.spent(org, r.month)).toBe(10_000)
        expect(ledger.calls).toBe(1)
      })
    )

    it.scopedLive(
      "100 concurrent first reservations over two instances read the ledger at most once per instance and admit exactly what is left",
      () =>
        Effect.gen(function* () {
          const { a, b } = yield* pair
          const org = newOrg()
          const r = reservation(org, { monthlyBudgetMicroUsd: 10_000 })
          ledger.spend.set(`${org}:${r.month}`, 5_000)
          const results = yield* Effect.all(
            Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a.reserve(r) : reserveNowOf(b, r))),
            { concurrency: "unbounded" }
          )
          expect(admitted(results)).toBe(5)
          expect(ledger.calls).toBeGreaterThanOrEqual(1)
          expect(ledger.calls).toBeLessThanOrEqual(2)
          expect(yield* a.spent(org, r.month)).toBe(10_000)
        })
    )

    it.scopedLive(
      "counts lost (a Redis that restarted empty) are rebuilt from the ledger; a request counted before settles its whole actual cost into the new count",
      () =>
        Effect.gen(function* () {
          const { a, b, lose } = yield* pair
          const org = newOrg()
          const before = reservation(org, { monthlyBudgetMicroUsd: 10_000, costMicroUsd: 4_000 })
          expect((yield* a.reserve(before))._tag).toBe("Admitted")
          yield* lose
          // What the records shipped so far say was spent (not `before`'s: its record follows its settle).
          ledger.spend.set(`${org}:${before.month}`, 3_000)
          const after = reservation(org, { monthlyBudgetMicroUsd: 10_000, costMicroUsd: 1_000 })
          expect((yield* b.reserve(after))._tag).toBe("Admitted")
          expect(yield* a.spent(org, after.month)).toBe(4_000)
          // Not its reservation's difference (−3,500) but what it cost: the new count never held it.
          yield* a.settle(before, { tokens: 10, costMicroUsd: 500 })
          expect(yield* a.spent(org, after.month)).toBe(4_500)
          yield* b.settle(after, { tokens: 10, costMicroUsd: 200 })
          expect(yield* a.spent(org, after.month)).toBe(3_700)
          expect((yield* a.reserve({ ...after, costMicroUsd: 6_301 }))._tag).toBe("BudgetExceeded")
          expect((yield* a.reserve({ ...after, costMicroUsd: 6_300 }))._tag).toBe("Admitted")
        })
    )

    it.scopedLive(
      "a settle while the month has no count adds nothing; the count rebuilt later comes from the ledger",
      () =>
        Effect.gen(function* () {
          const { a, lose } = yield* pair
          const org = newOrg()
          const r = reservation(org, { monthlyBudgetMicroUsd: 10_000, costMicroUsd: 2_000 })
          expect((yield* a.reserve(r))._tag).toBe("Admitted")
          yield* lose
          yield* a.settle(r, { tokens: 10, costMicroUsd: 700 })
          expect(yield* a.spent(org, r.month)).toBe(0)
          ledger.spend.set(`${org}:${r.month}`, 700)
          const next = reservation(org, { monthlyBudgetMicroUsd: 10_000, costMicroUsd: 9_300 })
          expect((yield* a.reserve(next))._tag).toBe("Admitted")
          expect(yield* a.spent(org, r.month)).toBe(10_000)
        })
    )

    it.scopedLive("a seed that answers late never replaces the count another instance started meanwhile", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 10_000, costMicroUsd: 1_000 })
        const key = `${org}:${r.month}`
        ledger.spend.set(key, 0)
        // The second read answers 200 ms after the first; by then the first seeded 0 and counted 1,000,
        // and the ledger says 5,000.
        ledger.delays.set(1, 200)
        const [first, second] = yield* Effect.all(
          [
            a.reserve(r),
            b.reserve(r),
            Effect.zipRight(
              Effect.sleep(60),
              Effect.sync(() => ledger.spend.set(key, 5_000))
            )
          ],
          { concurrency: "unbounded" }
        )
        expect(first._tag).toBe("Admitted")
        expect(second._tag).toBe("Admitted")
        expect(ledger.calls).toBe(2)
        // Had the late read replaced the count, it would read 6,000.
        expect(yield* a.spent(org, r.month)).toBe(2_000)
      })
    )

    it.scopedLive(
      "a ledger that cannot be read refuses a reservation with a budget and counts nothing; the month is asked again a second later",
      () =>
        Effect.gen(function* () {
          const { a } = yield* pair
          const org = newOrg()
          const r = reservation(org, { monthlyBudgetMicroUsd: 10_000, tokensPerMinute: 1_000, tokens: 600 })
          ledger.down = true
          const refused = yield* Effect.either(a.reserve(r))
          expect(refused._tag === "Left" ? refused.left._tag : "admitted").toBe("RateLimiterUnavailable")
          ledger.down = false
          // Within the second after a failed read: refused at once, the ledger not asked again.
          const calls = ledger.calls
          const soon = yield* Effect.either(a.reserve(r))
          expect(soon._tag === "Left" ? soon.left._tag : "admitted").toBe("RateLimiterUnavailable")
          expect(ledger.calls).toBe(calls)
          yield* Effect.sleep(1_100)
          // Nothing of the refused reservations was counted: its 600 tokens still fit the window.
          expect((yield* a.reserve(r))._tag).toBe("Admitted")
          expect(yield* a.spent(org, r.month)).toBe(1_000)
        })
    )

    it.scopedLive("a ledger that never answers is given up on: the reservation is refused, not left waiting", () =>
      Effect.gen(function* () {
        const { a } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 10_000 })
        ledger.delays.set(ledger.calls, 60_000)
        const refused = yield* Effect.either(a.reserve(r))
        expect(refused._tag === "Left" ? refused.left._tag : "admitted").toBe("RateLimiterUnavailable")
      })
    )

    it.scopedLive("a reservation without a budget never reads the ledger", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const r = reservation(newOrg(), { tokensPerMinute: 1_000, tokens: 100 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* reserveNowOf(b, r))._tag).toBe("Admitted")
        expect(ledger.calls).toBe(0)
      })
    )

    it.scopedLive("a budget that allows 10 admits exactly 10 of 100 concurrent reservations over two instances", () =>
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

    it.scopedLive(
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

    it.scopedLive("settleNow replaces a reservation by what was used, as settle does", () =>
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

    it.scopedLive("settling below the reservation gives the difference back; above it takes more", () =>
      Effect.gen(function* () {
        const { a, b } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 2_000 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* b.reserve(r))._tag).toBe("BudgetExceeded")
        yield* a.settle(r, { tokens: 10, costMicroUsd: 400 })
        expect(yield* b.spent(org, r.month)).toBe(1_400)
        const smaller = { ...r, costMicroUsd: 600 }
        expect((yield* b.reserve(smaller))._tag).toBe("Admitted")
        yield* b.settle(smaller, { tokens: 10, costMicroUsd: 900 })
        expect(yield* a.spent(org, r.month)).toBe(2_300)
        expect((yield* a.reserve({ ...r, costMicroUsd: 1 }))._tag).toBe("BudgetExceeded")
      })
    )

    it.scopedLive("spend is counted per month", () =>
      Effect.gen(function* () {
        const { a } = yield* pair
        const org = newOrg()
        const r = reservation(org, { monthlyBudgetMicroUsd: 1_000 })
        expect((yield* a.reserve(r))._tag).toBe("Admitted")
        expect((yield* a.reserve(r))._tag).toBe("BudgetExceeded")
        expect((yield* a.reserve({ ...r, month: "2099-01" }))._tag).toBe("Admitted")
      })
    )

    it.scopedLive("a token limit admits its tokens per minute across instances, exactly, under concurrency", () =>
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

    it.scopedLive("settling with fewer tokens than reserved frees them for the next request", () =>
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

    it.scopedLive(
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

    it.scopedLive("a refusal by the budget counts nothing against the token window", () =>
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
