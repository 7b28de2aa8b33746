/**
 * Rate-limit maths: GCRA (the generic cell rate algorithm), a sliding window with no 2x burst
 * at a window boundary. State is one number per key, the theoretical arrival time (TAT).
 * The Redis adapter runs the same maths in Lua with Redis's clock; this file is the reference.
 */
export interface RateLimitPolicy {
  /** Requests admitted per window; a full burst of `limit` is allowed from rest. */
  readonly limit: number
  readonly windowMs: number
}

export interface RateLimitDecision {
  readonly allowed: boolean
  readonly limit: number
  /** Requests still admissible right now, never negative. */
  readonly remaining: number
  /** When the key is back at full capacity (epoch ms). */
  readonly resetAtMs: number
  /** How long until one more request is admitted; 0 when allowed. */
  readonly retryAfterMs: number
}

export const DEFAULT_WINDOW_MS = 60_000

export const perMinute = (limit: number): RateLimitPolicy => ({ limit, windowMs: DEFAULT_WINDOW_MS })

export interface GcraResult {
  readonly decision: RateLimitDecision
  /** The TAT to store (unchanged when denied). */
  readonly tatMs: number
}

/**
 * `remaining` divides the spare capacity by a float interval (60000 / 11 …), and a TAT near the
 * epoch (~1.7e12 ms) carries ~0.25 µs of float noise (plus the 1 µs of the Redis copy's stored
 * TAT): exact multiples of the interval landed just below and under-reported by one. A tolerance
 * of one microsecond, below any clock either side reads, absorbs it. The Lua script uses the same.
 */
export const SLACK_TOLERANCE_MS = 0.001

export const gcra = (policy: RateLimitPolicy, storedTatMs: number | null, nowMs: number): GcraResult => {
  const limit = Math.max(1, Math.floor(policy.limit))
  const window = Math.max(1, policy.windowMs)
  const interval = window / limit
  const tat = storedTatMs === null ? nowMs : Math.max(storedTatMs, nowMs)
  const newTat = tat + interval
  const allowAt = newTat - window
  if (nowMs < allowAt) {
    const retryAfterMs = Math.ceil(allowAt - nowMs)
    return {
      tatMs: tat,
      decision: {
        allowed: false,
        limit,
        remaining: 0,
        resetAtMs: Math.ceil(tat),
        retryAfterMs: Math.max(1, retryAfterMs)
      }
    }
  }
  const remaining = Math.max(0, Math.min(limit, Math.floor((nowMs + window - newTat + SLACK_TOLERANCE_MS) / interval)))
  return {
    tatMs: newTat,
    decision: { allowed: true, limit, remaining, resetAtMs: Math.ceil(newTat), retryAfterMs: 0 }
  }
}

/** Seconds for Retry-After: at least 1, rounded up so a client that obeys it is admitted. */
export const retryAfterSeconds = (d: RateLimitDecision): number => Math.max(1, Math.ceil(d.retryAfterMs / 1000))
/** X-RateLimit-Reset as Unix seconds, rounded up. */
export const resetUnixSeconds = (d: RateLimitDecision): number => Math.ceil(d.resetAtMs / 1000)
