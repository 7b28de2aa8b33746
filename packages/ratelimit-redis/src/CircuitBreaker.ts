/**
 * A small synchronous circuit breaker for the hot path: after `failureThreshold` consecutive
 * failures it opens and refuses calls for `cooldownMs`; then it lets exactly one probe through
 * (half-open). The probe's success closes it, its failure opens it again. A dead backend
 * therefore costs one clock read per request.
 */
export interface CircuitBreakerOptions {
  readonly failureThreshold: number
  readonly cooldownMs: number
  readonly now?: () => number
  /**
   * Called when the breaker opens from closed (the backend stopped answering) and when it closes
   * again (it came back); not on the probes between, so an outage is two calls, not one a second.
   */
  readonly onChange?: (state: "open" | "closed") => void
}

export type CircuitState = "closed" | "open" | "half-open"

export interface CircuitBreaker {
  /** True when a call may go to the backend now (in half-open, only the single probe). */
  readonly tryAcquire: () => boolean
  readonly onSuccess: () => void
  readonly onFailure: () => void
  readonly state: () => CircuitState
}

export const makeCircuitBreaker = (options: CircuitBreakerOptions): CircuitBreaker => {
  const now = options.now ?? (() => performance.now())
  const threshold = Math.max(1, options.failureThreshold)
  let state: CircuitState = "closed"
  let failures = 0
  let openUntil = 0
  const open = () => {
    if (state === "closed") options.onChange?.("open")
    state = "open"
    openUntil = now() + options.cooldownMs
  }
  return {
    tryAcquire: () => {
      if (state === "closed") return true
      if (state === "open" && now() >= openUntil) {
        state = "half-open"
        return true
      }
      return false
    },
    onSuccess: () => {
      if (state !== "closed") options.onChange?.("closed")
      state = "closed"
      failures = 0
    },
    onFailure: () => {
      if (state === "half-open") return open()
      failures++
      if (state === "closed" && failures >= threshold) open()
    },
    state: () => state
  }
}
