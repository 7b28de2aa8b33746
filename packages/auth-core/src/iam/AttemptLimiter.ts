import { TooManyAttempts } from "@ibex/domain"
import { Clock, Context, Effect, Layer } from "effect"
import { IamConfig } from "./IamConfig.js"

/**
 * Failed-attempt counting for sign-in, MFA, forgot and reset: per account (e-mail) and per
 * source address, in a sliding window. Process-local and bounded (the auth service is the one
 * place these routes are served; with several instances each counts its own share).
 */
export interface AttemptLimiterShape {
  /** Fails with TooManyAttempts while any key is over its limit. */
  readonly check: (keys: ReadonlyArray<AttemptKey>) => Effect.Effect<void, TooManyAttempts>
  readonly fail: (keys: ReadonlyArray<AttemptKey>) => Effect.Effect<void>
  readonly clear: (key: AttemptKey) => Effect.Effect<void>
}

export type AttemptKey = { readonly kind: "account" | "source"; readonly value: string }

export class AttemptLimiter extends Context.Tag("@ibex/auth-core/AttemptLimiter")<
  AttemptLimiter,
  AttemptLimiterShape
>() {}

const MAX_KEYS = 100_000

export const AttemptLimiterLive = Layer.effect(
  AttemptLimiter,
  Effect.gen(function* () {
    const config = yield* IamConfig
    const failures = new Map<string, Array<number>>()
    const keyOf = (k: AttemptKey) => `${k.kind}:${k.value}`
    const limitOf = (k: AttemptKey) =>
      k.kind === "account" ? config.maxAttemptsPerAccount : config.maxAttemptsPerSource
    const recent = (key: string, now: number) => {
      const list = (failures.get(key) ?? []).filter((t) => t > now - config.attemptWindowMs)
      if (list.length === 0) failures.delete(key)
      else failures.set(key, list)
      return list
    }
    return AttemptLimiter.of({
      check: (keys) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          let retryAfterMs = 0
          for (const k of keys) {
            const list = recent(keyOf(k), now)
            const limit = limitOf(k)
            if (list.length >= limit) {
              const freeAt = (list[list.length - limit] ?? now) + config.attemptWindowMs
              retryAfterMs = Math.max(retryAfterMs, freeAt - now)
            }
          }
          return retryAfterMs > 0 ? Effect.fail(new TooManyAttempts({ retryAfterMs })) : Effect.void
        }),
      fail: (keys) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (failures.size >= MAX_KEYS) failures.delete(failures.keys().next().value as string)
            for (const k of keys) {
              const key = keyOf(k)
              const list = recent(key, now)
              list.push(now)
              failures.set(key, list)
            }
          })
        ),
      clear: (k) => Effect.sync(() => void failures.delete(keyOf(k)))
    })
  })
)
