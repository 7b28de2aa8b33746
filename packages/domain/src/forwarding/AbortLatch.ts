/**
 * What a forwarded call listens to for cancellation: the reading side of an `AbortSignal`. A real
 * `AbortSignal` qualifies, and so does an `AbortLatch`; undici's dispatcher takes either.
 */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: "abort", listener: () => void, options?: { readonly once?: boolean }): void
  removeEventListener(type: "abort", listener: () => void): void
}

/**
 * A one-shot abort with `AbortSignal`'s reading side, for the per-request and per-attempt
 * cancellations of the forwarding path. Why not `AbortController`: Node's signals are
 * EventTargets whose garbage outlives the young generation, so each request's signals reached old
 * space and dragged their listeners' closures with them; a run of 16 concurrent short tasks with
 * two linked controllers each did 22 mark-compacts in 8 s against none without (docs/PERFORMANCE.md,
 * "Ninth session").
 *
 * Semantics follow the signal's: each listener runs once, at the first `abort`, in the order added;
 * adding a listener twice keeps one; a listener added after the abort never runs; a listener that
 * throws does not stop the others (the first error is rethrown once all have run).
 */
export class AbortLatch implements AbortSignalLike {
  aborted = false
  reason: unknown = undefined
  #listeners: Array<() => void> | undefined = undefined

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return
    const listeners = this.#listeners
    if (listeners === undefined) this.#listeners = [listener]
    else if (!listeners.includes(listener)) listeners.push(listener)
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.#listeners
    if (listeners === undefined) return
    const at = listeners.indexOf(listener)
    if (at >= 0) listeners.splice(at, 1)
  }

  abort(reason: unknown = new Error("This operation was aborted")): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners === undefined) return
    let failure: { readonly error: unknown } | undefined
    for (const listener of listeners) {
      try {
        listener()
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure !== undefined) throw failure.error
  }
}
