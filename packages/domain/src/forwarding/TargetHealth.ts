import { Context, Layer } from "effect"
import type { CooldownPolicy } from "./RoutingTable.js"

/**
 * Which targets are cooling down. Each proxy keeps its own view: a target that keeps failing
 * here is skipped here for a while, without a shared store on the request path.
 */
export interface TargetHealthShape {
  /** Milliseconds until the target may be tried again; 0 when it is healthy. */
  readonly coolingForMs: (key: string, nowMs: number) => number
  readonly recordSuccess: (key: string) => void
  /** Returns true when this failure started a cooldown. */
  readonly recordFailure: (key: string, policy: CooldownPolicy, nowMs: number) => boolean
}

export class TargetHealth extends Context.Tag("@ibex/domain/TargetHealth")<TargetHealth, TargetHealthShape>() {}

interface Entry {
  failures: number
  until: number
  /** Until when, after its cooldown, the target is on probation (0: never cooled, or long ago). */
  probationUntil: number
}

/**
 * Bounded: a table change can only add as many keys as it has targets, and healthy keys are
 * removed. For one period after a cooldown ends the target is on probation (a circuit breaker's
 * half-open state): a failure then starts another cooldown at once, rather than another
 * `failures` in a row being spent on it. An answer clears it; past the probation it counts
 * failures afresh.
 */
export const makeTargetHealth = (): TargetHealthShape => {
  const entries = new Map<string, Entry>()
  return {
    coolingForMs: (key, nowMs) => {
      const e = entries.get(key)
      return e === undefined || e.until <= nowMs ? 0 : e.until - nowMs
    },
    recordSuccess: (key) => {
      entries.delete(key)
    },
    recordFailure: (key, policy, nowMs) => {
      const e = entries.get(key) ?? { failures: 0, until: 0, probationUntil: 0 }
      e.failures += 1
      entries.set(key, e)
      const onProbation = nowMs >= e.until && nowMs < e.probationUntil
      if ((onProbation || e.failures >= policy.failures) && policy.periodMs > 0) {
        e.failures = 0
        e.until = nowMs + policy.periodMs
        e.probationUntil = e.until + policy.periodMs
        return true
      }
      return false
    }
  }
}

export const TargetHealthMemory: Layer.Layer<TargetHealth> = Layer.sync(TargetHealth, makeTargetHealth)

export const targetKey = (providerId: string, model: string): string => `${providerId}\u0000${model}`
