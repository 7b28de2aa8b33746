import { Duration, Effect, Either, Exit, Runtime } from "effect"
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
 * A month's count unused for this long is dropped and rebuilt from the ledger at its next use. An
 * org whose limits were all cleared makes no counted request, so a count kept through such a
 * pause would lack what was spent in it; an idle org's rebuild costs one ledger read.
 */
export const SPEND_COUNT_IDLE_MS = 10 * 60_000

/**
 * What an adapter implements (Redis, memory): the atomic counts, with a month's spend count that
 * may be missing. A count is started once, from the ledger, and identified, so that the settle of
 * a reservation counted before the count was lost (a Redis restart) is recognised.
 */
export interface SpendCounter {
  /**
   * As UsageLimiter.reserve, except that a reservation with a budget, for a month the counter
   * holds no count of, counts nothing and answers Unseeded. Without a budget the spend is added
   * only to a count that exists. A count touched here lives SPEND_COUNT_IDLE_MS from now.
   */
  readonly reserve: (reservation: UsageReservation, done: Done<CounterAnswer>) => void
  /** Starts the org's month count at `spent`, unless one exists (another proxy's, a concurrent seed). */
  readonly seed: (orgId: string, month: string, spent: number, done: Done<void>) => void
  /**
   * As UsageLimiter.settle. Into `count`, while it is still the month's count, the difference
   * from the reservation. Into another count (the one `count` was lost, and rebuilt from a ledger
   * that cannot hold this request's record yet: a record is shipped after its settle), the whole
   * actual spend. With no count, nothing.
   */
  readonly settle: (
    reservation: UsageReservation,
    actual: { readonly tokens: number; readonly costMicroUsd: number },
    count: unknown,
    done: Done<void>
  ) => void
  readonly spent: UsageLimiterShape["spent"]
}

export interface SeededUsageLimiterOptions {
  /** The longest a reservation waits for the ledger before it is refused as undecidable. Default 3 s. */
  readonly ledgerTimeoutMs?: number
  /** After a failed ledger read, how long the org's month is refused at once instead of read again. Default 1 s. */
  readonly ledgerRetryAfterMs?: number
}

const unavailable = new RateLimiterUnavailable()

/** Waiters are the callers' callbacks: one that throws must not keep the others from their answer. */
const answerAll = <A>(waiters: ReadonlyArray<Done<A>>, result: Either.Either<A, RateLimiterUnavailable>) => {
  for (const waiter of waiters)
    try {
      waiter(result)
    } catch {
      // The thrower's own request is its caller's to handle; the rest are answered.
    }
}

/**
 * A UsageLimiter over a SpendCounter and the usage ledger. A reservation that finds no count of
 * its org's month has the count started from the ledger (once per org and month at a time in
 * this process, however many requests wait on it), then reserves again. A ledger that cannot be
 * read in time leaves the budget undecidable: RateLimiterUnavailable, which refuses an org with a
 * budget, and the org's month is not asked about again for `ledgerRetryAfterMs`. The ledger runs
 * in the calling layer's runtime (its logger and tracer).
 */
export const makeSeededUsageLimiter = (
  counter: SpendCounter,
  ledger: UsageLedgerShape,
  options: SeededUsageLimiterOptions = {}
): Effect.Effect<UsageLimiterShape> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runCallback = Runtime.runCallback(runtime)
    const timeout = Duration.millis(options.ledgerTimeoutMs ?? 3_000)
    const retryAfterMs = options.ledgerRetryAfterMs ?? 1_000
    // The count each admitted reservation went into, for its settle: the settle is given the
    // reservation object its reserve was (the edge keeps it for the request's life).
    const counts = new WeakMap<UsageReservation, unknown>()
    const seeding = new Map<string, Array<Done<void>>>()
    const failedUntil = new Map<string, number>()

    const readLedger = (orgId: string, month: string) =>
      ledger.monthSpend(orgId, month).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => "timeout" as const }),
        Effect.tapError((e) =>
          Effect.logWarning({
            event: "usage_ledger_unavailable",
            org_id: orgId,
            month,
            reason: e === "timeout" ? "timeout" : e._tag,
            effect: "requests of this org with a budget get 503 until its month's spend can be read"
          })
        ),
        Effect.withSpan("UsageLimiter.rebuildMonth", { attributes: { "ibex.org_id": orgId }, captureStackTrace: false })
      )

    const seed = (orgId: string, month: string, done: Done<void>) => {
      const key = `${orgId}\u0000${month}`
      const now = Date.now()
      if ((failedUntil.get(key) ?? 0) > now) return done(Either.left(unavailable))
      const waiting = seeding.get(key)
      if (waiting !== undefined) {
        waiting.push(done)
        return
      }
      const waiters = [done]
      seeding.set(key, waiters)
      const finish = (result: Either.Either<void, RateLimiterUnavailable>) => {
        seeding.delete(key)
        answerAll(waiters, result)
      }
      runCallback(readLedger(orgId, month), {
        onExit: (exit) => {
          if (Exit.isSuccess(exit)) return counter.seed(orgId, month, exit.value, finish)
          if (failedUntil.size >= 10_000) failedUntil.clear()
          failedUntil.set(key, Date.now() + retryAfterMs)
          finish(Either.left(unavailable))
        }
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
    } satisfies UsageLimiterShape
  })
