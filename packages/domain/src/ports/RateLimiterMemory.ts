import { Clock, Context, Effect, Either, Layer } from "effect"
import { RateLimiterUnavailable } from "../errors.js"
import type { OrgId } from "../ids.js"
import { gcra, type RateLimitDecision, type RateLimitPolicy } from "../RateLimit.js"
import { RateLimiter, type RateLimiterShape } from "./RateLimiter.js"

/**
 * The in-memory RateLimiter: the domain's `gcra` over a Map of theoretical arrival times,
 * with the same contract as the Redis adapter (testkit's RateLimiterContract runs over both). A
 * JavaScript turn is atomic, so read-decide-write needs no lock. Production uses it for the
 * embedded default (one proxy process); it lives beside its port, not in the test kit.
 */
export interface RateLimiterMemoryControlShape {
  /** false: every consume fails with RateLimiterUnavailable (a stopped backend); true: back. */
  readonly setAvailable: (available: boolean) => Effect.Effect<void>
  /** Another limiter instance over the same state, like a second proxy process on one Redis. */
  readonly newInstance: Effect.Effect<RateLimiterShape>
  /** Forget every org's state. */
  readonly reset: Effect.Effect<void>
}

export class RateLimiterMemoryControl extends Context.Tag("@ibex/domain/RateLimiterMemoryControl")<
  RateLimiterMemoryControl,
  RateLimiterMemoryControlShape
>() {}

interface Backend {
  available: boolean
  readonly tats: Map<string, { tatMs: number; expiresAtMs: number }>
}

/** Drops keys back at full capacity (what PEXPIRE does in Redis), so idle orgs cost nothing. */
const sweep = (backend: Backend, now: number) => {
  for (const [key, entry] of backend.tats) if (entry.expiresAtMs <= now) backend.tats.delete(key)
}

const decide = (
  backend: Backend,
  orgId: OrgId,
  policy: RateLimitPolicy,
  now: number
): Either.Either<RateLimitDecision, RateLimiterUnavailable> => {
  if (!backend.available) return Either.left(new RateLimiterUnavailable())
  const entry = backend.tats.get(orgId)
  const stored = entry !== undefined && entry.expiresAtMs > now ? entry.tatMs : null
  const { decision, tatMs } = gcra(policy, stored, now)
  if (decision.allowed) {
    if (backend.tats.size >= 10_000) sweep(backend, now)
    backend.tats.set(orgId, { tatMs, expiresAtMs: Math.ceil(tatMs) })
  }
  return Either.right(decision)
}

const makeInstance = (backend: Backend): RateLimiterShape => ({
  consume: (orgId: OrgId, policy: RateLimitPolicy): Effect.Effect<RateLimitDecision, RateLimiterUnavailable> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => decide(backend, orgId, policy, now)),
  consumeNow: (orgId, policy, done) => done(decide(backend, orgId, policy, Date.now()))
})

const make = Effect.sync(() => {
  const backend: Backend = { available: true, tats: new Map() }
  const control: RateLimiterMemoryControlShape = {
    setAvailable: (available) =>
      Effect.sync(() => {
        backend.available = available
      }),
    newInstance: Effect.sync(() => makeInstance(backend)),
    reset: Effect.sync(() => backend.tats.clear())
  }
  return Context.make(RateLimiter, makeInstance(backend)).pipe(Context.add(RateLimiterMemoryControl, control))
})

/** `RateLimiter` in memory, plus `RateLimiterMemoryControl` (availability switch, second instance) for tests. */
export const RateLimiterMemory: Layer.Layer<RateLimiter | RateLimiterMemoryControl> = Layer.effectContext(make)
