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
  /** Cooled down since its last success: when the cooldown ends it is on probation. */
  tripped: boolean
}

/**
 * Bounded: a table change can only add as many keys as it has targets, and healthy keys are
 * removed. A target that cooled down and has not answered since is on probation when its
 * cooldown ends (a circuit breaker's half-open state): its next failure starts another cooldown
 * at once, rather than another `failures` in a row being spent on it.
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
      const e = entries.get(key) ?? { failures: 0, until: 0, tripped: false }
      e.failures += 1
      entries.set(key, e)
      if ((e.tripped || e.failures >= policy.failures) && policy.periodMs > 0) {
        e.failures = 0
        e.tripped = true
        e.until = nowMs + policy.periodMs
        return true
      }
      return false
    }
  }
}

export const TargetHealthMemory: Layer.Layer<TargetHealth> = Layer.sync(TargetHealth, makeTargetHealth)

export const targetKey = (providerId: string, model: string): string => `${providerId}\u0000${model}`
