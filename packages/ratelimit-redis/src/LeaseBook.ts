import { BoundedMap, type RateLimitDecision, type RateLimiterUnavailable } from "@ibex/domain"
import { Either } from "effect"

/**
 * Leases: for an org whose limit is high, one script call takes several units of its GCRA at once
 * and this process admits the next requests from them without a round trip to Redis. Measured on
 * the bench machine, the round trip was ~15 % of a forwarded chat's throughput: it is one more
 * process hop on every request's critical path, on two cores shared by five processes.
 *
 * What keeps the limit exact:
 * - every admitted request was counted in Redis before it was admitted (a unit is granted by the
 *   script, atomically, only while it fits in the burst), so no interleaving of proxies admits
 *   more than the GCRA bound: over-admission stays 0;
 * - a unit unused `ttlMs` after its own grant is dropped, never used late, so a lease cannot carry
 *   capacity from one moment of the window into another (a refill that arrives while units of the
 *   last grant are left keeps those under their own deadline; older ones are dropped);
 * - a grant holds at most `shareMs` of the org's whole rate (limit ÷ window), so an org with an
 *   ordinary limit (with the defaults, anything under 120,000 a minute) never leases at all and
 *   every request is judged in Redis exactly as before; what a lease can waste (units counted,
 *   then dropped) is at most one grant per `ttlMs` per proxy: 1 % of such an org's rate.
 */
export interface LeaseOptions {
  /** Units one grant may take, at most. 1: no leases. */
  readonly maxUnits: number
  /** A grant holds at most this many milliseconds of the org's whole rate. */
  readonly shareMs: number
  /** Units still unused this long after their grant are dropped. */
  readonly ttlMs: number
  /** Orgs (with their policy) held at once, at most. */
  readonly maxEntries: number
}

export const defaultLeaseOptions: LeaseOptions = { maxUnits: 64, shareMs: 1, ttlMs: 100, maxEntries: 10_000 }

/** How many units one grant asks for under this policy: 1 (no lease) unless the limit is high. */
export const leaseUnits = (limit: number, windowMs: number, options: LeaseOptions): number =>
  Math.max(1, Math.min(options.maxUnits, Math.floor((limit * options.shareMs) / windowMs)))

/** One script call's answer: the decision on its first unit, and the units granted in all (≥ 1 when allowed). */
export interface Grant {
  readonly decision: RateLimitDecision
  readonly granted: number
}

export type DecisionCallback = (result: Either.Either<RateLimitDecision, RateLimiterUnavailable>) => void

export type GrantCall = (
  key: string,
  limit: number,
  windowMs: number,
  want: number,
  done: (result: Either.Either<Grant, RateLimiterUnavailable>) => void
) => void

interface Entry {
  readonly key: string
  readonly limit: number
  readonly windowMs: number
  readonly want: number
  /** The latest grant's units not yet used, and when they lapse. */
  units: number
  expiresAt: number
  /** The grant before it: its units left when the latest arrived, under their own deadline. */
  older: number
  olderExpiresAt: number
  /** Redis's remaining after the last grant. */
  remaining: number
  resetAtMs: number
  granting: boolean
  /** Requests that found no unit, waiting for the grant in flight. */
  waiters: Array<DecisionCallback>
}

export interface LeaseBook {
  /** Decides one request of an org whose policy leases (`want` > 1), calling `done` once. */
  readonly take: (key: string, limit: number, windowMs: number, want: number, done: DecisionCallback) => void
}

export const makeLeaseBook = (
  options: LeaseOptions & {
    readonly grant: GrantCall
    readonly now?: () => number
    /** Where a throwing callback's error goes. Default: thrown again in a microtask of its own. */
    readonly reportError?: (error: unknown) => void
  }
): LeaseBook => {
  const now = options.now ?? (() => performance.now())
  const reportError =
    options.reportError ??
    ((error: unknown) =>
      queueMicrotask(() => {
        throw error
      }))
  // By the org's key; a changed policy replaces the entry (its units are dropped; a grant in
  // flight still answers the requests waiting on it).
  const entries = new BoundedMap<string, Entry>(options.maxEntries)

  /** Units usable at `t`; lapsed ones are dropped on the way. */
  const held = (e: Entry, t: number): number => {
    if (e.older > 0 && t >= e.olderExpiresAt) e.older = 0
    if (e.units > 0 && t >= e.expiresAt) e.units = 0
    return e.older + e.units
  }

  /** Uses one unit, the oldest first; the caller has seen `held` > 0. */
  const use = (e: Entry): RateLimitDecision => {
    if (e.older > 0) e.older--
    else e.units--
    return {
      allowed: true,
      limit: e.limit,
      remaining: e.remaining + e.older + e.units,
      resetAtMs: e.resetAtMs,
      retryAfterMs: 0
    }
  }

  /**
   * One waiter's answer. A callback that throws must not leave the waiters after it unanswered
   * (their requests would hang): its error is reported on its own, once the rest are answered.
   */
  const answer = (w: DecisionCallback, result: Either.Either<RateLimitDecision, RateLimiterUnavailable>): void => {
    try {
      w(result)
    } catch (error) {
      reportError(error)
    }
  }

  const startGrant = (e: Entry): void => {
    e.granting = true
    options.grant(e.key, e.limit, e.windowMs, e.want, (result) => {
      e.granting = false
      const waiting = e.waiters
      e.waiters = []
      if (Either.isLeft(result)) {
        // The grant's failure is the evidence each waiter's fail-open rests on (see `judge`).
        for (const w of waiting) answer(w, Either.left(result.left))
        return
      }
      const { decision, granted } = result.right
      if (!decision.allowed) {
        for (const w of waiting) answer(w, Either.right(decision))
        return
      }
      const t = now()
      held(e, t)
      // A third generation is never kept: what is left of the one before last is dropped.
      e.older = e.units
      e.olderExpiresAt = e.expiresAt
      e.units = granted
      e.expiresAt = t + options.ttlMs
      e.remaining = decision.remaining
      e.resetAtMs = decision.resetAtMs
      let served = 0
      while (served < waiting.length && held(e, now()) > 0)
        answer(waiting[served++] as DecisionCallback, Either.right(use(e)))
      if (served < waiting.length) {
        // The burst held fewer units than were waiting: the rest wait for the next grant, ahead
        // of anyone who arrived while these were answered.
        e.waiters = waiting.slice(served).concat(e.waiters)
        if (!e.granting) startGrant(e)
      }
    })
  }

  const take = (key: string, limit: number, windowMs: number, want: number, done: DecisionCallback): void => {
    let e = entries.get(key)
    if (e === undefined || e.limit !== limit || e.windowMs !== windowMs) {
      e = {
        key,
        limit,
        windowMs,
        want,
        units: 0,
        expiresAt: 0,
        older: 0,
        olderExpiresAt: 0,
        remaining: 0,
        resetAtMs: 0,
        granting: false,
        waiters: []
      }
      entries.set(key, e)
    }
    const t = now()
    if (held(e, t) > 0) {
      const decision = use(e)
      // Refill before the units run out, so the requests after these never wait for Redis.
      if (!e.granting && held(e, t) <= want >> 1) startGrant(e)
      done(Either.right(decision))
      return
    }
    e.waiters.push(done)
    if (!e.granting) startGrant(e)
  }

  return { take }
}
