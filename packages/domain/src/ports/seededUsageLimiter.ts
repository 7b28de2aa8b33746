import { Effect, Either, Exit } from "effect"
import { RateLimiterUnavailable } from "../errors.js"
import type { UsageLedgerShape } from "./UsageLedger.js"
import type { UsageAdmission, UsageLimiterShape, UsageReservation } from "./UsageLimiter.js"

/** A counter's answer to a reservation: its admission, or that it holds no count for the org's month. */
export type CounterAnswer =
  | {
      readonly _tag: "Counted"
      readonly admission: UsageAdmission
      /** The month's count the reservation's spend went into (undefined: none); its settle names it. */
      readonly count: unknown
    }
  | { readonly _tag: "Unseeded" }

type Done<A> = (result: Either.Either<A, RateLimiterUnavailable>) => void

/**
 * What an adapter implements (Redis, memory): the atomic counts, with a month's spend count that
 * may be missing. A count is started once, from the ledger, and identified, so that a settle of a
 * reservation counted before the count was lost (a Redis restart) cannot take its reservation off
 * a count that never held it.
 */
export interface SpendCounter {
  /**
   * As UsageLimiter.reserve, except that a reservation with a budget, for a month the counter
   * holds no count of, counts nothing and answers Unseeded. Without a budget the spend is added
   * only to a count that exists.
   */
  readonly reserve: (reservation: UsageReservation, done: Done<CounterAnswer>) => void
  /** Starts the org's month count at `spent`, unless one exists (another proxy's, a concurrent seed). */
  readonly seed: (orgId: string, month: string, spent: number, done: Done<void>) => void
  /** As UsageLimiter.settle; the spend part goes only into `count`, and only while it is the month's count. */
  readonly settle: (
    reservation: UsageReservation,
    actual: { readonly tokens: number; readonly costMicroUsd: number },
    count: unknown,
    done: Done<void>
  ) => void
  readonly spent: UsageLimiterShape["spent"]
}

const unavailable = new RateLimiterUnavailable()

/**
 * A UsageLimiter over a SpendCounter and the usage ledger. A reservation that finds no count of
 * its org's month has the count started from the ledger (once per org and month at a time in
 * this process, however many requests wait on it), then reserves again. A ledger that cannot be
 * read leaves the budget undecidable: RateLimiterUnavailable, which refuses an org with a budget.
 */
export const makeSeededUsageLimiter = (counter: SpendCounter, ledger: UsageLedgerShape): UsageLimiterShape => {
  // The count each admitted reservation went into, for its settle (the same object is settled).
  const counts = new WeakMap<UsageReservation, unknown>()
  const seeding = new Map<string, Array<Done<void>>>()

  const seed = (orgId: string, month: string, done: Done<void>) => {
    const key = `${orgId}\u0000${month}`
    const waiting = seeding.get(key)
    if (waiting !== undefined) {
      waiting.push(done)
      return
    }
    const waiters = [done]
    seeding.set(key, waiters)
    const finish = (result: Either.Either<void, RateLimiterUnavailable>) => {
      seeding.delete(key)
      for (const waiter of waiters) waiter(result)
    }
    Effect.runCallback(ledger.monthSpend(orgId, month), {
      onExit: (exit) =>
        Exit.isSuccess(exit) ? counter.seed(orgId, month, exit.value, finish) : finish(Either.left(unavailable))
    })
  }

  const admitted = (r: UsageReservation, answer: CounterAnswer, done: Done<UsageAdmission>): boolean => {
    if (answer._tag === "Unseeded") return false
    if (answer.admission._tag === "Admitted") counts.set(r, answer.count)
    done(Either.right(answer.admission))
    return true
  }

  const reserveNow = (r: UsageReservation, done: Done<UsageAdmission>) =>
    counter.reserve(r, (first) => {
      if (Either.isLeft(first)) return done(Either.left(first.left))
      if (admitted(r, first.right, done)) return
      seed(r.orgId, r.month, (seeded) => {
        if (Either.isLeft(seeded)) return done(Either.left(seeded.left))
        counter.reserve(r, (second) => {
          if (Either.isLeft(second)) return done(Either.left(second.left))
          // Seeded and gone again at once (a flush between the two calls): not decidable now.
          if (!admitted(r, second.right, done)) done(Either.left(unavailable))
        })
      })
    })

  const settleNow: NonNullable<UsageLimiterShape["settleNow"]> = (r, actual, done) => {
    const count = counts.get(r)
    counts.delete(r)
    counter.settle(r, actual, count, done)
  }

  return {
    reserve: (r) => Effect.async<UsageAdmission, RateLimiterUnavailable>((resume) => reserveNow(r, resume)),
    reserveNow,
    settle: (r, actual) => Effect.async<void, RateLimiterUnavailable>((resume) => settleNow(r, actual, resume)),
    settleNow,
    spent: counter.spent
  }
}
