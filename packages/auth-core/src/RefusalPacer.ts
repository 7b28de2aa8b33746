import { Effect, type Scope } from "effect"

/**
 * Where padded refusals wait (TokenValidator, "Timing"): one timer for all of them, and a wake-up
 * of at most `batch` per turn of the event loop, the rest after the loop has polled for I/O again.
 *
 * Why not a timer each: a flood's refusals are padded to the same floor from the same instant, so
 * their timers expire together, and Node runs every expired timer of a turn before it polls. A
 * thousand wake-ups (~100 µs each: the fiber, its refusal, the reply) then ran back to back while
 * another tenant's finished Argon2id waited behind them to be noticed: its first validation took
 * 160–200 ms against 40–60 ms quiet. Woken a batch per turn, the refusals cost the same CPU, but a
 * completion that arrives meanwhile waits for one batch, not for the flood.
 *
 * A refusal is never woken before its time (the timing property the padding exists for); it may
 * be woken later, by at most the batches due before it.
 */
export interface RefusalPacer {
  /** Suspends until `atMs` (performance.now() time) has passed and this waiter's batch comes; interruptible. */
  readonly sleepUntil: (atMs: number) => Effect.Effect<void>
  /** Waiters parked now (interrupted ones leave at once); counts the heap, for tests and diagnostics. */
  readonly parked: () => number
}

interface Waiter {
  readonly atMs: number
  readonly seq: number
  wake: (() => void) | undefined
}

const before = (a: Waiter, b: Waiter) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq)

/** A binary min-heap by (atMs, arrival): parked in almost-sorted order, so pushes are near O(1). */
class WaiterHeap {
  private readonly items: Array<Waiter> = []
  get size() {
    return this.items.length
  }
  peek(): Waiter | undefined {
    return this.items[0]
  }
  /** Waiters still to wake (interrupted ones stay in the heap until their time, without a wake). */
  live(): number {
    let n = 0
    for (const w of this.items) if (w.wake !== undefined) n++
    return n
  }
  push(w: Waiter) {
    const a = this.items
    a.push(w)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(w, a[p] as Waiter)) break
      a[i] = a[p] as Waiter
      i = p
    }
    a[i] = w
  }
  pop(): Waiter | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= a.length) break
      const r = l + 1
      const c = r < a.length && before(a[r] as Waiter, a[l] as Waiter) ? r : l
      if (!before(a[c] as Waiter, last)) break
      a[i] = a[c] as Waiter
      i = c
    }
    a[i] = last
    return top
  }
}

/** A pacer for one validator; its timer is cleared when `scope` closes (parked waiters stay suspended, as their fibers are interrupted with the scope's owner). */
export const makeRefusalPacer = (batch: number): Effect.Effect<RefusalPacer, never, Scope.Scope> =>
  Effect.gen(function* () {
    if (!(batch >= 1)) return yield* Effect.dieMessage("RefusalPacer needs a batch of at least 1")
    const heap = new WaiterHeap()
    let seq = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    let timerAt = Number.POSITIVE_INFINITY
    let drainQueued = false
    let closed = false

    const arm = () => {
      // Interrupted waiters leave their slot behind; drop them from the top so the timer is for a live one.
      while (heap.peek()?.wake === undefined && heap.size > 0) heap.pop()
      const next = heap.peek()
      if (closed || next === undefined || drainQueued) return
      if (timer !== undefined && timerAt <= next.atMs) return
      if (timer !== undefined) clearTimeout(timer)
      timerAt = next.atMs
      timer = setTimeout(onTimer, Math.max(0, Math.ceil(next.atMs - performance.now())))
    }
    const onTimer = () => {
      timer = undefined
      timerAt = Number.POSITIVE_INFINITY
      drain()
    }
    const drain = () => {
      drainQueued = false
      if (closed) return
      const now = performance.now()
      let woken = 0
      while (woken < batch) {
        const next = heap.peek()
        if (next === undefined || next.atMs > now) break
        heap.pop()
        const wake = next.wake
        if (wake === undefined) continue
        next.wake = undefined
        woken++
        wake()
      }
      const next = heap.peek()
      if (next !== undefined && next.atMs <= now) {
        // More are due: after the loop has polled (setImmediate runs after I/O callbacks).
        drainQueued = true
        setImmediate(drain)
        return
      }
      arm()
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
      })
    )

    const sleepUntil = (atMs: number): Effect.Effect<void> =>
      Effect.async<void>((resume) => {
        const waiter: Waiter = { atMs, seq: seq++, wake: () => resume(Effect.void) }
        heap.push(waiter)
        arm()
        return Effect.sync(() => {
          waiter.wake = undefined
        })
      })

    return { sleepUntil, parked: () => heap.live() }
  })
